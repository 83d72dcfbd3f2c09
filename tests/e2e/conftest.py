"""Real-model fixtures: the embedded SmolLM2 (prepared by `make install`) and the shipped packs."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from server.engines.base import GenerateRequest, SamplingParams
from server.engines.loader import load_packs
from server.settings import REPO_PACKS
from steering.model import EMBEDDED_MODEL_ID, prepare_embedded_model
from steering.pack import ModelInfo

SMOL = ModelInfo(name=EMBEDDED_MODEL_ID, architecture="LlamaForCausalLM", d_model=576, num_layers=30)


@pytest.fixture(scope="session")
def model_path():
    return prepare_embedded_model()


@pytest.fixture(scope="session")
def shipped_packs():
    packs = load_packs(REPO_PACKS / EMBEDDED_MODEL_ID, SMOL, strict=True)
    assert any(p.id == "golden-gate" for p in packs), "the golden-gate pack must ship"
    return packs


@pytest.fixture(scope="module")
def engine(model_path, shipped_packs):
    from server.engines.hf import HFEngine

    eng = HFEngine(model_path, shipped_packs, model_id=EMBEDDED_MODEL_ID, max_num_seqs=16)
    yield eng
    asyncio.run(eng.shutdown())


async def collect(engine, prompt: str, steering=None, rid="r", **sampling):
    sp = SamplingParams(**{"max_tokens": 24, "temperature": 0.0, "logprobs": True, **sampling})
    text, lps, finish = "", [], None
    async for d in engine.generate(GenerateRequest(rid, engine.tokenize_chat([{"role": "user", "content": prompt}]),
                                                   sp, steering or {})):
        text += d.text
        lps += [lp.logprob for lp in d.logprobs]
        finish = d.finish_reason
    return text, lps, finish


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(*args: str, timeout: float = 120) -> tuple[subprocess.Popen, str]:
    """`steer serve` in a subprocess on a free port; returns once /health answers 200."""
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--port", str(port), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited during start-up:\n" + proc.stdout.read()[-3000:])
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"server not healthy within {timeout} s")
