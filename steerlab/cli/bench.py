"""``steer bench op|vllm|load|soak``: benchmarks that print ratios measured side by side (and append a Markdown
block to ``--out``). The benchmark modules are imported inside each command, so ``--help`` answers without
loading torch."""

from __future__ import annotations

import argparse

from server.cli.common import Group


def _common(p: argparse.ArgumentParser, reps: bool = True) -> None:
    p.add_argument("--out", help="append a Markdown result block to this file")
    if reps:
        p.add_argument("--reps", type=int, default=7, help="interleaved repetitions per variant")


def register(g: Group) -> None:
    op = g.command("op", "the fused op in the HF engine: steered ÷ unsteered decode throughput",
                   ["steer bench op", "steer bench op --batch 64 --steps 16 --out docs/benchmarks.md"], cmd_bench_op)
    op.add_argument("--steps", type=int, default=32, help="new tokens per request")
    op.add_argument("--batch", type=int, default=16, help="batch size")
    _common(op)

    gp = g.command("gpu", "the fused op on a GPU at a production width (random-weight Llama): steered ÷ unsteered "
                   "forward time, eager (HF engine path) and inside a CUDA graph (vLLM worker path)",
                   ["steer bench gpu --shape llama-8b --out docs/benchmarks.md",
                    "steer bench gpu --shape tiny --device cpu --iters 3   # eager only, a smoke run"], cmd_bench_gpu)
    gp.add_argument("--shape", choices=["llama-8b", "smollm2-135m", "tiny"], default="llama-8b")
    gp.add_argument("--device", choices=["cuda", "cpu"], help="default: cuda when available")
    gp.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], default="bf16")
    gp.add_argument("--batch", type=int, default=64, help="decode step: sequences × 1 token")
    gp.add_argument("--chunk", type=int, default=2048, help="prefill chunk: 1 × this many tokens")
    gp.add_argument("--iters", type=int, default=50, help="interleaved repetitions")
    gp.add_argument("--out", help="append a Markdown result block to this file")

    v = g.command("vllm", "steered vLLM vs vanilla vLLM: engines, then servers",
                  ["steer bench vllm --out docs/benchmarks.md", "steer bench vllm --concurrency 16 --configs 1,16 "
                   "--skip-servers   # engines only"], cmd_bench_vllm)
    v.add_argument("--max-tokens", dest="max_tokens", type=int, default=64, help="new tokens per request")
    v.add_argument("--concurrency", default="16,64", help="concurrent requests (comma list)")
    v.add_argument("--configs", default="1,16,64", help="distinct steering configs (comma list)")
    v.add_argument("--server-concurrency", dest="server_concurrency", type=int, default=16,
                   help="concurrent streams in the server comparison")
    v.add_argument("--skip-servers", dest="skip_servers", action="store_true", help="engines only")
    _common(v)

    lo = g.command("load", "steer serve vs vllm serve vs plain batched generate under streaming load (TTFT, ITL, "
                   "e2e percentiles, tokens/s)", ["steer bench load --out docs/benchmarks.md",
                                                  "steer bench load --skip-vllm --load-concurrency 16 --rate 0"],
                   cmd_bench_load)
    lo.add_argument("--max-tokens", dest="max_tokens", type=int, default=32, help="new tokens per request")
    lo.add_argument("--load-concurrency", dest="load_concurrency", default="16,64",
                    help="concurrent streams, closed loop (comma list)")
    lo.add_argument("--requests", type=int, default=4, help="requests per client in the closed loop (the first "
                    "arrive as one burst; later ones show the steady state)")
    lo.add_argument("--rate", type=float, default=4.0, help="Poisson arrivals per second (0 = skip)")
    lo.add_argument("--duration", type=float, default=30.0, help="seconds of Poisson arrivals")
    lo.add_argument("--skip-vllm", dest="skip_vllm", action="store_true", help="steer serve only")
    _common(lo, reps=False)

    so = g.command("soak", "one server under streaming load with disconnects, a webhook outage, pack reloads, "
                   "overload and SIGTERM (errors, RSS/open files over time, alert accounting)", [
                       "steer bench soak --out docs/benchmarks.md     # 64 streams, 10 min",
                       "steer bench soak --streams 16 --duration 60 --json soak.json --plot soak.png"], cmd_bench_soak)
    so.add_argument("--streams", type=int, default=64, help="concurrent streaming clients")
    so.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    so.add_argument("--disconnect", type=float, default=0.25, help="share of requests the client hangs up early")
    so.add_argument("--json", help="write the whole report (samples included) to this JSON file")
    so.add_argument("--plot", help="PNG of RSS, open files, gauges and alerts over time")
    _common(so, reps=False)


def cmd_bench_op(a: argparse.Namespace) -> int:
    from steerlab.bench.op import run_bench

    return run_bench(a)


def cmd_bench_vllm(a: argparse.Namespace) -> int:
    from steerlab.bench.vllm import run_bench_vllm

    return run_bench_vllm(a)


def cmd_bench_load(a: argparse.Namespace) -> int:
    from steerlab.bench.load import run_bench_load

    return run_bench_load(a)


def cmd_bench_soak(a: argparse.Namespace) -> int:
    from steerlab.bench.soak import run_bench_soak

    return run_bench_soak(a)


def cmd_bench_gpu(a: argparse.Namespace) -> int:
    from steerlab.bench.gpu import run_bench_gpu

    return run_bench_gpu(a)
