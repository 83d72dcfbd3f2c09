"""``steer bench gpu``: the fused op's cost on a GPU at a production model's width, eager and inside a CUDA graph,
measured side by side in one run.

No download: a Llama-architecture model of the chosen shape with random weights (the op's cost does not depend on
them; timing only). Three synthetic SAE-style packs (32 features each, :mod:`steerlab.bench.synthetic`) at a third,
a half and two thirds of the depth; every token carries one of 64 distinct configs (a clamp, an add and a monitor
per pack). Two forward shapes: a decode step (``--batch`` sequences × 1 token) and a prefill chunk (1 × ``--chunk``
tokens). Two modes, each against the same forward with no hooks:

* ``eager``: the HF engine's path (``steering.hooks.attach`` → ``SteeringRuntime.apply_site`` inside
  ``runtime.forward``: per-request readouts and receipts reduced every pass);
* ``graph``: the vLLM worker's path (``SiteTable.apply_static``, no Python branch, reading a persistent row buffer
  and writing the activations and edit masks to persistent buffers) captured with the whole forward in one CUDA
  graph and replayed.

The forwards run without a KV cache, so a decode step has no long-context attention in it: the ratios are an upper
bound on what the op adds to a real decode step. Times are medians of interleaved repetitions (plain, steered,
plain, ...), measured with CUDA events.
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
from pathlib import Path

import torch

from steering.hooks import attach, decoder_layers
from steering.runtime import SteeringRuntime
from steerlab.bench.synthetic import config, synthetic_packs

SHAPES = {  # hidden, intermediate, layers, heads, kv heads, vocab
    "llama-8b": (4096, 14336, 32, 32, 8, 128256),
    "smollm2-135m": (576, 1536, 30, 9, 3, 49152),
    "tiny": (64, 128, 6, 4, 2, 256),  # the unit test's
}
CONFIGS = 64


def random_llama(shape: str, device: str, dtype: torch.dtype):
    from transformers import LlamaConfig, LlamaForCausalLM

    d, ff, n, heads, kv, vocab = SHAPES[shape]
    cfg = LlamaConfig(hidden_size=d, intermediate_size=ff, num_hidden_layers=n, num_attention_heads=heads,
                      num_key_value_heads=kv, vocab_size=vocab, max_position_embeddings=8192)
    with torch.device(device):
        model = LlamaForCausalLM(cfg).to(dtype).eval()
    return model


def _timer(device: str):
    """A function running ``fn`` once and returning its seconds (CUDA events on a GPU)."""
    if device == "cuda":
        def cuda_time(fn) -> float:
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            b.synchronize()
            return a.elapsed_time(b) / 1e3
        return cuda_time

    def cpu_time(fn) -> float:
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t
    return cpu_time


def interleaved(plain, steered, iters: int, device: str) -> tuple[float, float]:
    """Median seconds of ``plain()`` and ``steered()``, run alternately ``iters`` times each after a warm-up."""
    timer = _timer(device)
    for _ in range(3):
        plain(), steered()
    a, b = [], []
    for i in range(iters):
        first, second = (plain, steered) if i % 2 == 0 else (steered, plain)
        t1, t2 = timer(first), timer(second)
        (a, b)[first is steered].append(t1)
        (a, b)[second is steered].append(t2)
    return statistics.median(a), statistics.median(b)


@contextlib.contextmanager
def static_hooks(model, rt: SteeringRuntime, rows: torch.Tensor, n_max: int):
    """The vLLM worker's hook shape: ``apply_static`` reading the persistent ``rows`` buffer, writing activations and
    edit masks to persistent buffers (what the worker reduces after the step)."""
    gates = torch.ones(n_max, max(len(rt.gates), 1), dtype=torch.bool, device=rows.device)
    acts = {L: torch.zeros(n_max, t.W_enc.shape[1], device=rows.device) for L, t in rt.sites.items()}
    edits = {L: torch.zeros(n_max, t.W_enc.shape[1], device=rows.device) for L, t in rt.sites.items()}
    blocks = decoder_layers(model)

    def make(layer: int):
        site = rt.sites[layer]

        def hook(module, args, output):
            h = output[0] if isinstance(output, tuple) else output
            flat = h.reshape(-1, h.shape[-1])
            n = flat.shape[0]
            delta, a = site.apply_static(flat, rows[:n], gates[:n])
            acts[layer][:n].copy_(a)
            edits[layer][:n].copy_(site.edit_mask(rows[:n], gates[:n]))
            out = (flat + delta).reshape(h.shape)
            return (out, *output[1:]) if isinstance(output, tuple) else out
        return hook

    handles = [blocks[L].register_forward_hook(make(L)) for L in rt.sites]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def layers_only(model, ids: torch.Tensor):
    """The forward as the graph captures it: embedding, rotary tables, the decoder layers (their hooks fire), norm
    and head, called directly so that no attention-mask construction (which may synchronise with the host) is in
    the graph; causal attention comes from SDPA's ``is_causal``."""
    inner = model.model
    position_ids = torch.arange(ids.shape[1], device=ids.device)[None].expand(ids.shape[0], -1)

    @torch.no_grad()
    def fn():
        h = inner.embed_tokens(ids)
        pe = inner.rotary_emb(h, position_ids)
        for layer in inner.layers:
            out = layer(h, attention_mask=None, position_ids=position_ids, position_embeddings=pe)
            h = out[0] if isinstance(out, tuple) else out
        return model.lm_head(inner.norm(h))
    return fn


def graphed(fn):
    """``fn`` captured in a CUDA graph; returns the replay."""
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        fn()
    return g.replay


def measure(model, rt: SteeringRuntime, rows_of: list[int], B: int, T: int, iters: int, device: str) -> dict:
    """One forward shape ``[B, T]``: plain vs eager-steered, and (on CUDA) plain vs steered inside CUDA graphs."""
    ids = torch.randint(0, model.config.vocab_size, (B, T), device=device)
    N = B * T
    row = torch.tensor([rows_of[i % len(rows_of)] for i in range(N)], device=device)
    slot = torch.arange(N, device=device) // T
    pos = torch.arange(1, T + 1, device=device).repeat(B)  # no sink in the measured tokens: every token is edited

    @torch.no_grad()
    def plain():
        model(input_ids=ids, use_cache=False)

    @torch.no_grad()
    def eager():
        with rt.forward(row, slot, pos) as state:
            model(input_ids=ids, use_cache=False)
        for r in state.readouts:  # the engine reads every readout back (one device→host copy each)
            r.max.tolist()

    out = {"shape": f"{B} × {T}"}
    with attach(model, rt):
        out["plain_eager"], out["steered_eager"] = interleaved(plain, eager, iters, device)
    if device == "cuda":
        try:
            body = layers_only(model, ids)
            g_plain = graphed(body)
            with static_hooks(model, rt, row, N):
                g_steer = graphed(body)  # the hooks are captured into this graph
            out["plain_graph"], out["steered_graph"] = interleaved(g_plain, g_steer, iters, device)
        except Exception as e:  # noqa: BLE001 — report it beside the eager numbers rather than lose them
            out["graph_error"] = f"{type(e).__name__}: {e}"[:300]
    return out


def run_bench_gpu(args) -> int:
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[args.dtype]
    d, _, n_layers, *_ = SHAPES[args.shape]
    layers = (n_layers // 3, n_layers // 2, 2 * n_layers // 3)
    print(f"{args.shape} (d_model {d}, {n_layers} layers, random weights) on {device}, {args.dtype}; packs at layers "
          f"{layers}", flush=True)
    model = random_llama(args.shape, device, dtype)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        packs = synthetic_packs(Path(tmp), d, n_layers, args.shape, layers)
        rt = SteeringRuntime(packs, d, max_configs=CONFIGS + 2, max_slots=max(args.batch, 1) + 1, device=device,
                             dtype=dtype)
        rows_of = [rt.rows.acquire(config(k)) for k in range(CONFIGS)]
        for B, T in ((args.batch, 1), (1, args.chunk)):
            r = measure(model, rt, rows_of, B, T, args.iters, device)
            results.append(r)
            print(r, flush=True)
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    lines = ["| forward | mode | unsteered (median) | 3 packs, 64 configs (median) | ratio |", "|---|---|---|---|---|"]
    for r in results:
        if "graph_error" in r:
            lines.append(f"| {r['shape']} tokens | graph | capture failed: {r['graph_error']} | | |")
        for mode in ("eager", "graph"):
            if f"plain_{mode}" in r:
                a, b = r[f"plain_{mode}"], r[f"steered_{mode}"]
                lines.append(f"| {r['shape']} tokens | {mode} | {a * 1e3:.3f} ms | {b * 1e3:.3f} ms | **{b / a:.3f}** |")
    report = "\n".join(lines) + (f"\n\n{name}, torch {torch.__version__}; {args.iters} interleaved repetitions; no KV "
                                 "cache (an upper bound on the op's share of a real decode step).")
    print(report)
    if args.out:
        with open(args.out, "a") as f:
            f.write(f"\n### `steer bench gpu --shape {args.shape}` — {time.strftime('%Y-%m-%d %H:%M')}\n\n{report}\n")
    return 0
