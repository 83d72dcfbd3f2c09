"""``steer bench op``: the fused op's cost on the real model, measured side by side in one run.

Two ratios, each from interleaved repetitions (A, B, A, B, ...; median of each):
  1. decode tokens/s at batch ``--batch`` with three packs on every request ÷ the same batch unsteered (goal ≥ 0.97);
  2. tokens/s at batch 64 with 64 distinct configs ÷ 64 requests sharing one config (goal ≥ 0.95).
Timing uses synthetic packs of realistic size (three SAE-style packs of 32 features at layers 10/15/20, seeded
random weights): only the cost is measured here, never steering quality.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import torch

from server.engines.base import GenerateRequest, SamplingParams
from server.engines.hf import HFEngine
from steering.model import EMBEDDED_MODEL_ID, prepare_embedded_model
from steering.runtime import SteeringRuntime
from steerlab.bench.synthetic import config, synthetic_packs


async def throughput(engine, configs: list[dict], max_tokens: int) -> tuple[float, float]:
    """(tokens per wall second, tokens per CPU second of this process). On a shared VM, stolen cycles inflate
    wall time but not CPU time, so the CPU-time ratio is the steadier measure of what steering costs."""
    ids = engine.tokenize_chat([{"role": "user", "content": "Write a long story about a lighthouse keeper."}])
    sp = SamplingParams(max_tokens=max_tokens, temperature=0.0, ignore_eos=True)

    async def one(i: int, cfg: dict) -> int:
        n = 0
        async for d in engine.generate(GenerateRequest(f"b{i}-{time.monotonic_ns()}", ids, sp, cfg)):
            n = d.completion_tokens
        return n

    t, c = time.perf_counter(), time.process_time()
    tokens = sum(await asyncio.gather(*(one(i, c) for i, c in enumerate(configs))))
    return tokens / (time.perf_counter() - t), tokens / (time.process_time() - c)


def side_by_side(engine, a: list[dict], b: list[dict], max_tokens: int, reps: int) -> dict[str, float]:
    """Alternate A and B (B first on odd reps, so drift favours neither); print every rep. Returns medians of
    wall tokens/s and the medians of the per-rep (paired) ratios B/A, by wall time and by CPU time."""
    ra, rb = [], []
    asyncio.run(throughput(engine, a[:2], 4))  # warm-up
    for r in range(reps):
        order = [(a, ra), (b, rb)] if r % 2 == 0 else [(b, rb), (a, ra)]
        for configs, out in order:
            out.append(asyncio.run(throughput(engine, configs, max_tokens)))
        print(f"    rep {r + 1}: A {ra[-1][0]:.1f} tok/s ({ra[-1][1]:.1f}/cpu-s), "
              f"B {rb[-1][0]:.1f} tok/s ({rb[-1][1]:.1f}/cpu-s)", flush=True)
    med = statistics.median
    return {"a": med(x[0] for x in ra), "b": med(x[0] for x in rb),
            "wall": med(y[0] / x[0] for x, y in zip(ra, rb, strict=True)),
            "cpu": med(y[1] / x[1] for x, y in zip(ra, rb, strict=True))}


def op_microbench(packs, n_tokens: int, iters: int = 200) -> tuple[float, float, float]:
    """The fused op alone on real shapes: seconds per call with 0 / 1 / ``n_tokens`` distinct rows (interleaved)."""
    rt = SteeringRuntime(packs, 576, max_configs=n_tokens + 2, max_slots=n_tokens)
    one = rt.rows.acquire(config(0))
    many = [rt.rows.acquire(config(k)) for k in range(1, n_tokens + 1)]
    h = torch.randn(n_tokens, 576)
    variants = {"none": [0] * n_tokens, "one": [one] * n_tokens, "many": many}
    times = {k: [] for k in variants}
    for _ in range(iters):
        for k, rows in variants.items():
            rt.batch.row, rt.batch.rows_present = torch.tensor(rows), set(rows)
            rt.batch.slot, rt.batch.pos = torch.arange(n_tokens), torch.zeros(n_tokens, dtype=torch.long)
            t = time.perf_counter()
            for layer in rt.sites:
                rt.apply_site(layer, h)
            times[k].append(time.perf_counter() - t)
            rt.batch.readouts.clear()
    return tuple(statistics.median(times[k]) for k in ("none", "one", "many"))


def run_bench(args) -> int:
    path = prepare_embedded_model()
    with tempfile.TemporaryDirectory() as tmp:
        packs = synthetic_packs(Path(tmp), 576, 30, EMBEDDED_MODEL_ID)
        engine = HFEngine(path, packs, model_id=EMBEDDED_MODEL_ID, max_num_seqs=64, max_configs=80)
        B, steps, reps = args.batch, args.steps, args.reps
        print(f"[1/2] batch {B}, {steps} new tokens, {reps} interleaved reps: unsteered vs three packs on every request")
        s1 = side_by_side(engine, [{}] * B, [config(0)] * B, steps, reps)
        print(f"[2/2] batch 64, {steps} new tokens: 1 shared config vs 64 distinct configs")
        s2 = side_by_side(engine, [config(0)] * 64, [config(k) for k in range(64)], steps, reps)
        asyncio.run(engine.shutdown())
        t_none, t_one, t_many = op_microbench(packs, 64)
    lines = [
        "| measurement | tokens/s (median) | ratio, wall time | ratio, CPU time | goal |", "|---|---|---|---|---|",
        f"| batch {B} unsteered | {s1['a']:.1f} | | | |",
        f"| batch {B}, 3 packs (clamp+add+monitor each) on every request | {s1['b']:.1f} | {s1['wall']:.3f} | "
        f"**{s1['cpu']:.3f}** | ≥ 0.97 |",
        f"| batch 64, 1 shared config | {s2['a']:.1f} | | | |",
        f"| batch 64, 64 distinct configs | {s2['b']:.1f} | {s2['wall']:.3f} | **{s2['cpu']:.3f}** | ≥ 0.95 |",
        "",
        "Ratios are medians of paired reps (A and B run back to back, order alternating).",
        f"Fused op alone, 64 tokens, 3 sites (median per forward pass): unsteered {t_none * 1e6:.0f} µs, "
        f"1 config {t_one * 1e6:.0f} µs, 64 distinct configs {t_many * 1e6:.0f} µs (ratio many ÷ one "
        f"{t_many / t_one:.3f}).",
    ]
    report = "\n".join(lines)
    print(report)
    if args.out:
        with open(args.out, "a") as f:
            f.write(f"\n### `steer bench op` — {time.strftime('%Y-%m-%d %H:%M')} ({torch.get_num_threads()} threads)\n\n"
                    f"{report}\n")
    return 0
