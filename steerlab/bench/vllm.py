"""``steer bench vllm``: steering inside vLLM against vanilla vLLM, measured side by side in one run.

Part 1 (engines): a vanilla AsyncLLM (plugin not loaded) and steerserve's VLLMEngine (three synthetic SAE-sized
packs at layers 10/15/20, as in ``steer bench op``) live side by side; for each concurrency and number of
distinct configs, A (vanilla, no steering) and B (every request steered: clamp + add + monitor per pack, request
``i`` using config ``i mod n``) run back to back, order alternating. Reported: medians of wall tokens/s and of
the paired ratios B/A, by wall time and by CPU time of the whole process tree (engine subprocesses included).

Part 2 (servers): ``steer serve --engine vllm`` and ``python -m vllm.entrypoints.openai.api_server`` on the same
model; the same streaming chat load against each (alternating): output tokens/s and time to first token.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from server.engines.base import GenerateRequest, SamplingParams
from steering.model import EMBEDDED_MODEL_ID, prepare_embedded_model
from steering.vllm.cpu import cpu_defaults
from steerlab.bench.synthetic import config, synthetic_packs

PROMPT = "Write a long story about a lighthouse keeper."
CPU_ENV = cpu_defaults()


def tree_cpu() -> float:
    me = psutil.Process()
    total = 0.0
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


async def _vanilla_run(llm, ids, n: int, max_tokens: int) -> int:
    from vllm import SamplingParams

    sp = SamplingParams(max_tokens=max_tokens, temperature=0.0, ignore_eos=True)

    async def one(i: int) -> int:
        k = 0
        async for o in llm.generate({"prompt_token_ids": ids}, sp, request_id=f"v{i}-{time.monotonic_ns()}"):
            k = len(o.outputs[0].token_ids)
        return k

    return sum(await asyncio.gather(*(one(i) for i in range(n))))


async def _steered_run(engine, ids, configs: list[dict], max_tokens: int) -> int:
    sp = SamplingParams(max_tokens=max_tokens, temperature=0.0, ignore_eos=True)

    async def one(i: int, cfg: dict) -> int:
        k = 0
        async for d in engine.generate(GenerateRequest(f"s{i}-{time.monotonic_ns()}", ids, sp, cfg)):
            k = d.completion_tokens
        return k

    return sum(await asyncio.gather(*(one(i, c) for i, c in enumerate(configs))))


async def _timed(coro) -> tuple[float, float]:
    t, c = time.perf_counter(), tree_cpu()
    tokens = await coro
    return tokens / (time.perf_counter() - t), tokens / max(tree_cpu() - c, 1e-9)


async def engines_part(path: Path, packs, concurrency: list[int], n_configs: list[int], max_tokens: int,
                       reps: int) -> list[dict]:
    from vllm import AsyncEngineArgs
    from vllm.v1.engine.async_llm import AsyncLLM

    from server.engines.vllm import VLLMEngine  # imports vllm: loaded only when this benchmark runs

    saved = os.environ.get("VLLM_PLUGINS")
    os.environ["VLLM_PLUGINS"] = ""  # vanilla: no plugin at all
    vanilla = AsyncLLM.from_engine_args(AsyncEngineArgs(model=str(path), dtype="float16", max_model_len=1024,
                                                        max_num_seqs=max(concurrency), enforce_eager=True, seed=0))
    if saved is None:
        del os.environ["VLLM_PLUGINS"]
    else:
        os.environ["VLLM_PLUGINS"] = saved
    steer = VLLMEngine(path, packs, model_id=path.name, max_num_seqs=max(concurrency), max_model_len=1024)
    ids = steer.tokenize_chat([{"role": "user", "content": PROMPT}])
    rows = []
    try:
        await _vanilla_run(vanilla, ids, 2, 4)
        await _steered_run(steer, ids, [config(0)] * 2, 4)
        for conc in concurrency:
            for n in n_configs:
                configs = [config(i % n) for i in range(conc)]
                a, b = [], []
                for r in range(reps):
                    runs = [(a, _vanilla_run(vanilla, ids, conc, max_tokens)),
                            (b, _steered_run(steer, ids, configs, max_tokens))]
                    for out, coro in runs if r % 2 == 0 else runs[::-1]:
                        out.append(await _timed(coro))
                    print(f"  {conc} concurrent, {n} configs, rep {r + 1}: vanilla {a[-1][0]:.1f} tok/s, "
                          f"steered {b[-1][0]:.1f} tok/s", flush=True)
                med = statistics.median
                rows.append({"conc": conc, "configs": n, "a": med(x[0] for x in a), "b": med(x[0] for x in b),
                             "wall": med(y[0] / x[0] for x, y in zip(a, b, strict=True)),
                             "cpu": med(y[1] / x[1] for x, y in zip(a, b, strict=True))})
    finally:
        vanilla.shutdown()
        await steer.shutdown()
    return rows


# -- part 2: whole servers ----------------------------------------------------------------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(argv: list[str], env: dict, log: Path, port: int) -> subprocess.Popen:
    with open(log, "w") as f:
        return subprocess.Popen([sys.executable, *argv, "--port", str(port)], env={**os.environ, **env}, stdout=f,
                                stderr=subprocess.STDOUT)


def _wait(base: str, proc: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"{base} not healthy in {timeout} s")


async def _load(base: str, model: str, conc: int, max_tokens: int, headers: dict) -> tuple[float, float]:
    """``conc`` concurrent streaming chat requests → (output tokens/s, median TTFT in s)."""
    body = {"model": model, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": max_tokens,
            "temperature": 0, "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}}
    async with httpx.AsyncClient(timeout=600) as client:
        async def one() -> tuple[int, float]:
            t0, ttft, tokens = time.perf_counter(), None, 0
            async with client.stream("POST", base + "/v1/chat/completions", json=body, headers=headers) as r:
                r.raise_for_status()
                async for line in r.aiter_lines():
                    if ttft is None and '"content"' in line:
                        ttft = time.perf_counter() - t0
                    if '"completion_tokens"' in line:
                        tokens = json.loads(line[6:])["usage"]["completion_tokens"]
            return tokens, ttft or 0.0

        t = time.perf_counter()
        res = await asyncio.gather(*(one() for _ in range(conc)))
    return sum(k for k, _ in res) / (time.perf_counter() - t), statistics.median(x for _, x in res)


def servers_part(path: Path, packs_root: Path, conc: int, max_tokens: int, reps: int, tmp: Path) -> list[dict]:
    name = path.name
    pa, pb = free_port(), free_port()
    vllm_proc = _start(["-m", "vllm.entrypoints.openai.api_server", "--model", str(path), "--dtype", "float16",
                        "--enforce-eager", "--max-model-len", "1024", "--served-model-name", name,
                        "--max-num-seqs", str(conc)], {**CPU_ENV, "VLLM_PLUGINS": ""}, tmp / "vllm.log", pa)
    steer_proc = _start(["-m", "server.cli", "serve", "--engine", "vllm", "--model", str(path), "--packs",
                         str(packs_root), "--max-model-len", "1024", "--max-num-seqs", str(conc)], CPU_ENV,
                        tmp / "steer.log", pb)
    a_url, b_url = f"http://127.0.0.1:{pa}", f"http://127.0.0.1:{pb}"
    try:
        _wait(a_url, vllm_proc, tmp / "vllm.log")
        _wait(b_url, steer_proc, tmp / "steer.log")
        variants = {"vllm serve": (a_url, {}), "steer serve --engine vllm, unsteered": (b_url, {}),
                    "steer serve --engine vllm, 3 packs on every request": (b_url, {"X-Steering": ",".join(
                        f"bench-{i}/f0:clamp=1,bench-{i}/f1:add=0.5,bench-{i}/f2:monitor" for i in range(3))})}
        for url, h in variants.values():
            asyncio.run(_load(url, name, 2, 4, h))
        out = {k: [] for k in variants}
        for r in range(reps):
            keys = list(variants) if r % 2 == 0 else list(variants)[::-1]
            for k in keys:
                out[k].append(asyncio.run(_load(variants[k][0], name, conc, max_tokens, variants[k][1])))
            print(f"  servers rep {r + 1}: " + ", ".join(f"{k} {v[-1][0]:.1f} tok/s" for k, v in out.items()),
                  flush=True)
    finally:
        for p in (vllm_proc, steer_proc):
            p.terminate()
        for p in (vllm_proc, steer_proc):
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
    base = out["vllm serve"]
    med = statistics.median
    return [{"name": k, "tps": med(x[0] for x in v), "ttft": med(x[1] for x in v),
             "tps_ratio": med(y[0] / x[0] for x, y in zip(base, v, strict=True)),
             "ttft_ratio": med(y[1] / max(x[1], 1e-9) for x, y in zip(base, v, strict=True))}
            for k, v in out.items()]


def run_bench_vllm(args) -> int:
    for k, v in CPU_ENV.items():
        os.environ.setdefault(k, v)
    path = prepare_embedded_model()
    conc = [int(x) for x in args.concurrency.split(",")]
    n_cfg = [int(x) for x in args.configs.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        packs = synthetic_packs(tmp / "packs", 576, 30, EMBEDDED_MODEL_ID)
        print(f"[1/2] engines: vanilla vLLM vs steered, {args.max_tokens} new tokens, {args.reps} paired reps")
        rows = asyncio.run(engines_part(path, packs, conc, n_cfg, args.max_tokens, args.reps))
        srv = []
        if not args.skip_servers:
            print(f"[2/2] servers: vllm serve vs steer serve --engine vllm, {args.server_concurrency} streams")
            srv = servers_part(path, tmp / "packs", args.server_concurrency, args.max_tokens, args.reps, tmp)
    lines = ["| concurrent requests | distinct configs | vanilla tok/s | steered tok/s | ratio, wall | "
             "ratio, CPU time | goal |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['conc']} | {r['configs']} | {r['a']:.1f} | {r['b']:.1f} | {r['wall']:.3f} | **{r['cpu']:.3f}** "
              f"| ≥ 0.95 (CPU) |" for r in rows]
    if srv:
        lines += ["", "| server | output tok/s | TTFT p50 (s) | tok/s ÷ vllm serve | TTFT ÷ vllm serve |",
                  "|---|---|---|---|---|"]
        lines += [f"| {s['name']} | {s['tps']:.1f} | {s['ttft']:.3f} | {s['tps_ratio']:.3f} | {s['ttft_ratio']:.3f} |"
                  for s in srv]
    lines += ["", "Ratios are medians of paired reps (back to back, order alternating); eager mode, fp16, "
              f"{args.max_tokens} new tokens per request, synthetic 3×32-feature packs (timing only)."]
    report = "\n".join(lines)
    print(report)
    if args.out:
        with open(args.out, "a") as f:
            f.write(f"\n### `steer bench vllm` — {time.strftime('%Y-%m-%d %H:%M')} ({os.cpu_count()} CPUs)\n\n"
                    f"{report}\n")
    return 0
