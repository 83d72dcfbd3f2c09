"""``steer bench load``: latency and throughput of whole servers under streaming load, side by side in one run.

Servers, one at a time on the same machine: ``steer serve`` (HF engine, the embedded model, fp32) and, unless
``--skip-vllm``, a plain ``vllm serve`` of the same model (fp16, no plugin). For each: closed-loop load (``C``
clients, each sending ``--requests`` streaming chat requests back to back) at every ``--concurrency``, and open-loop
Poisson arrivals (``--rate`` requests/s for ``--duration`` s). Every request asks for exactly ``--max-tokens`` tokens
(``ignore_eos``). Per request: TTFT (first content chunk), inter-token latencies (ITL), TPOT (time per output token
after the first: (e2e − TTFT) ÷ (tokens − 1), vLLM's definition) and end-to-end latency; reported as p50/p90/p99
with output tokens/s over the run.

Baseline: a plain batched ``model.generate`` loop (transformers, fp32, the same prompts left-padded) at batch ``C``,
best of 3, after the servers have stopped (nothing else runs meanwhile). Ratios printed: TTFT p50 ÷ end-to-end p50
(goal ≤ 0.20 at 64 streams) and steer serve tokens/s ÷ plain generate tokens/s (goal ≥ 0.9 at 16).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from steering.model import EMBEDDED_MODEL_ID, prepare_embedded_model
from steerlab.bench.vllm import CPU_ENV, _start, _wait, free_port

PROMPTS = [
    "What is your favourite food?", "How do I learn to swim?", "Tell me about the history of tea.",
    "Write a haiku about autumn.", "Explain photosynthesis simply.", "What makes a good friend?",
    "Describe a quiet morning in a small village.", "How do airplanes fly?", "Give me three tips for sleeping better.",
    "What is the capital of Australia and why?", "Write a short story about a robot.", "How do vaccines work?",
    "What should I pack for a beach holiday?", "Explain recursion to a child.", "Why is the sky blue?",
    "Suggest a name for a bakery.",
]


@dataclass
class Req:
    ttft: float = 0.0
    e2e: float = 0.0
    itl: list[float] = field(default_factory=list)
    tokens: int = 0
    ok: bool = True


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


async def _one(client: httpx.AsyncClient, base: str, model: str, i: int, max_tokens: int) -> Req:
    body = {"model": model, "messages": [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}],
            "max_tokens": max_tokens, "temperature": 0, "ignore_eos": True, "stream": True,
            "stream_options": {"include_usage": True}}
    r, t0 = Req(), time.perf_counter()
    last = None
    try:
        async with client.stream("POST", base + "/v1/chat/completions", json=body) as resp:
            if resp.status_code != 200:
                r.ok = False
                return r
            async for line in resp.aiter_lines():
                if not line.startswith("data: {"):
                    continue
                msg = json.loads(line[6:])
                if msg.get("usage"):
                    r.tokens = msg["usage"]["completion_tokens"]
                if any(c.get("delta", {}).get("content") for c in msg.get("choices", [])):
                    now = time.perf_counter()
                    if last is None:
                        r.ttft = now - t0
                    else:
                        r.itl.append(now - last)
                    last = now
    except httpx.HTTPError:
        r.ok = False
    r.e2e = time.perf_counter() - t0
    return r


async def closed_loop(base: str, model: str, conc: int, per_client: int, max_tokens: int) -> tuple[list[Req], float]:
    async with httpx.AsyncClient(timeout=900, limits=httpx.Limits(max_connections=conc + 8)) as client:
        async def worker(c: int) -> list[Req]:
            return [await _one(client, base, model, c * per_client + k, max_tokens) for k in range(per_client)]

        t = time.perf_counter()
        out = [r for rs in await asyncio.gather(*(worker(c) for c in range(conc))) for r in rs]
        return out, time.perf_counter() - t


async def poisson(base: str, model: str, rate: float, duration: float, max_tokens: int,
                  seed: int = 0) -> tuple[list[Req], float]:
    rng = random.Random(seed)
    async with httpx.AsyncClient(timeout=900, limits=httpx.Limits(max_connections=1000)) as client:
        tasks, t, i = [], time.perf_counter(), 0
        while time.perf_counter() - t < duration:
            tasks.append(asyncio.create_task(_one(client, base, model, i, max_tokens)))
            i += 1
            await asyncio.sleep(rng.expovariate(rate))
        out = await asyncio.gather(*tasks)
        return list(out), time.perf_counter() - t


def summarize(name: str, load: str, reqs: list[Req], wall: float) -> dict:
    ok = [r for r in reqs if r.ok]
    itl = [x for r in ok for x in r.itl]
    tok = sum(r.tokens for r in ok)
    s = {"server": name, "load": load, "n": len(reqs), "errors": len(reqs) - len(ok), "tps": tok / wall}
    tpot = [(r.e2e - r.ttft) / (r.tokens - 1) for r in ok if r.tokens > 1]
    for key, xs in (("ttft", [r.ttft for r in ok]), ("itl", itl), ("tpot", tpot), ("e2e", [r.e2e for r in ok])):
        for q in (50, 90, 99):
            s[f"{key}{q}"] = pct(xs, q)
    s["ttft_share"] = s["ttft50"] / s["e2e50"] if s["e2e50"] else float("nan")
    print(f"  {name:<28} {load:<22} {s['n']:>4} req, {s['errors']} errors, {s['tps']:6.1f} tok/s, "
          f"TTFT p50 {s['ttft50']:.2f} s, ITL p50 {1000 * s['itl50']:.0f} ms, TPOT p50 {1000 * s['tpot50']:.0f} ms, "
          f"e2e p50 {s['e2e50']:.2f} s (TTFT/e2e {s['ttft_share']:.2f})", flush=True)
    return s


def run_loads(name: str, base: str, model: str, args) -> list[dict]:
    rows = []
    asyncio.run(closed_loop(base, model, 2, 1, 4))  # warm-up
    for c in args.conc:
        reqs, wall = asyncio.run(closed_loop(base, model, c, args.requests, args.max_tokens))
        rows.append(summarize(name, f"closed loop, {c} streams", reqs, wall))
    if args.rate > 0:
        reqs, wall = asyncio.run(poisson(base, model, args.rate, args.duration, args.max_tokens))
        rows.append(summarize(name, f"Poisson {args.rate:g}/s, {args.duration:g} s", reqs, wall))
    return rows


def plain_generate(path: Path, batch: int, max_tokens: int, reps: int = 3) -> float:
    """Tokens/s of transformers' own batched generate at ``batch`` (fp32, greedy, exactly max_tokens each)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    texts = [tok.apply_chat_template([{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}],
                                     add_generation_prompt=True, tokenize=False) for i in range(batch)]
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    best = 0.0
    with torch.no_grad():
        for _ in range(reps):
            t = time.perf_counter()
            out = model.generate(**enc, max_new_tokens=max_tokens, min_new_tokens=max_tokens, do_sample=False,
                                 pad_token_id=tok.pad_token_id or tok.eos_token_id)
            n = (out.shape[1] - enc["input_ids"].shape[1]) * batch
            best = max(best, n / (time.perf_counter() - t))
    return best


def run_bench_load(args) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    args.conc = [int(x) for x in args.load_concurrency.split(",")]
    path = prepare_embedded_model()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        servers = [("steer serve (HF engine)", ["-m", "server.cli", "serve", "--max-num-seqs", str(max(args.conc))],
                    {})]
        if not args.skip_vllm:
            servers.append(("vllm serve", ["-m", "vllm.entrypoints.openai.api_server", "--model", str(path),
                                           "--dtype", "float16", "--max-model-len", "1024", "--served-model-name",
                                           EMBEDDED_MODEL_ID, "--max-num-seqs", str(max(args.conc))],
                            {**CPU_ENV, "VLLM_PLUGINS": ""}))
        for i, (name, argv, env) in enumerate(servers, 1):
            print(f"[{i}/{len(servers) + 1}] {name}: closed loop at {args.conc} streams × {args.requests} requests, "
                  f"{args.max_tokens} tokens each" + (f"; Poisson {args.rate:g}/s" if args.rate > 0 else ""),
                  flush=True)
            port = free_port()
            log = tmp / f"server{i}.log"
            proc = _start(argv, env, log, port)
            base = f"http://127.0.0.1:{port}"
            try:
                _wait(base, proc, log)
                rows += run_loads(name, base, EMBEDDED_MODEL_ID, args)
            finally:
                proc.terminate()
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
        print(f"[{len(servers) + 1}/{len(servers) + 1}] plain batched model.generate at batch {args.conc}", flush=True)
        plain = {c: plain_generate(path, c, args.max_tokens) for c in args.conc}
    lines = ["| server | load | requests | errors | tok/s | TTFT p50 / p90 / p99 (s) | ITL p50 / p90 / p99 (ms) | "
             "TPOT p50 / p90 / p99 (ms) | e2e p50 / p90 / p99 (s) | TTFT p50 ÷ e2e p50 |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['server']} | {r['load']} | {r['n']} | {r['errors']} | {r['tps']:.1f} | "
                     f"{r['ttft50']:.2f} / {r['ttft90']:.2f} / {r['ttft99']:.2f} | "
                     f"{1000 * r['itl50']:.0f} / {1000 * r['itl90']:.0f} / {1000 * r['itl99']:.0f} | "
                     f"{1000 * r['tpot50']:.0f} / {1000 * r['tpot90']:.0f} / {1000 * r['tpot99']:.0f} | "
                     f"{r['e2e50']:.2f} / {r['e2e90']:.2f} / {r['e2e99']:.2f} | **{r['ttft_share']:.3f}** |")
    lines += ["", "| batch = streams | plain `model.generate` tok/s | steer serve (HF) tok/s | ratio |", "|---|---|---|---|"]
    for c in args.conc:
        hf = next(r for r in rows if r["server"].startswith("steer") and r["load"] == f"closed loop, {c} streams")
        lines.append(f"| {c} | {plain[c]:.1f} | {hf['tps']:.1f} | **{hf['tps'] / plain[c]:.3f}** |")
    lines += ["", f"Goals (issue 11): TTFT p50 ÷ e2e p50 ≤ 0.20 at 64 streams; tok/s ≥ 0.9 × plain generate at 16. "
              f"{args.max_tokens} tokens per request (ignore_eos), {args.requests} requests per client; HF fp32, "
              f"vLLM fp16 in its default (compiled) mode; plain generate best of 3."]
    report = "\n".join(lines)
    print(report)
    if args.out:
        cmd = " ".join(["steer bench load", *sys.argv[3:]]) if len(sys.argv) > 2 else "steer bench load"
        with open(args.out, "a") as f:
            f.write(f"\n### `{cmd}` — {time.strftime('%Y-%m-%d %H:%M')} ({os.cpu_count()} CPUs)\n\n{report}\n")
    return 0
