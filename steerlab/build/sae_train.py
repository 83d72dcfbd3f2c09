"""``steer sae train``: collect layer activations from packaged text, train a TopK SAE, report, save (SAELens).

Everything lands in ``--out``: ``activations.safetensors`` (fp16 cache, reused on resume), ``checkpoint/``
(weights, optimizer state, stats; written every few hundred steps), the SAELens directory ``sae/``,
``report.md`` and ``loss.png`` (only when matplotlib, in the ``build`` extra, is installed: the plot is the one
step that needs it, so without it the run still ends and says so). Re-running with the same ``--out`` resumes where
it stopped.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from steerlab.build.activations import layer_activations
from steerlab.build.corpus import chunk_text, iter_corpus
from steerlab.build.data import boolq_passages
from steerlab.build.sae import TopKSAE, TrainStats, fvu_of, fvu_typical, save_saelens, scaling_factor, train_sae

log = logging.getLogger(__name__)
NO_PLOT = "no loss.png: matplotlib is not installed (`pip install -e '.[build]'` adds it)"


def default_texts(max_chars: int, seed: int = 0) -> list[str]:
    """Prose (Wikipedia paragraphs) and code (standard-library modules), about 3:1, deterministic."""
    import random
    import sysconfig

    prose = [f"{t}. {b}" for t, b in boolq_passages()]
    root = Path(sysconfig.get_paths()["stdlib"])
    code = []
    for p in sorted(root.glob("*.py")):
        lines = p.read_text(errors="replace").splitlines()
        code += ["\n".join(lines[i : i + 40]) for i in range(0, len(lines), 40)]
    rng = random.Random(seed)
    rng.shuffle(prose)
    rng.shuffle(code)
    texts, total, pi, ci = [], 0, 0, 0
    while total < max_chars and (pi < len(prose) or ci < len(code)):
        take_code = (len(texts) % 4 == 3 and ci < len(code)) or pi >= len(prose)
        t = code[ci] if take_code else prose[pi]
        ci, pi = (ci + 1, pi) if take_code else (ci, pi + 1)
        texts.append(t)
        total += len(t)
    return texts


def corpus_texts(corpus: Path, max_chars: int) -> list[str]:
    """Texts of a `steer corpus build` directory, in its (seeded) order, up to ``max_chars``."""

    texts, total = [], 0
    for doc in iter_corpus(corpus):
        if total >= max_chars:
            break
        texts.append(doc.text)
        total += len(doc.text)
    return texts


def collect(model, tok, texts: list[str], layer: int, cache: Path, batch_size: int = 16,
            context: int = 1024) -> torch.Tensor:
    """Activations ``[N, d]`` as float16 (half the memory of float32: 4M tokens × 576 = 4.6 GB), cached in
    ``cache``. Texts longer than about ``context`` tokens are split into windows (paragraph/line boundaries,
    3 characters per token) so that no text is lost to truncation; windows run sorted by length, ``batch_size`` at
    a time (the SAE shuffles tokens anyway). Attention makes long windows slow on CPU: 1,024-token windows
    collected ≈1.3k tokens/s here against ≈8k for short ones, so ``--context 256`` is the fast choice."""
    if cache.exists():
        return load_file(cache)["acts"]
    if context < 1024:
        texts = [c for t in texts for c in chunk_text(t, 3 * context)]
    texts = sorted(texts, key=len)
    stream = layer_activations(model, tok, texts, layer, batch_size=batch_size, max_tokens=context, desc="activations")
    acts = torch.cat([a.half() for a in stream])
    save_file({"acts": acts.contiguous()}, cache)
    return acts


def _load_optimizer(path: Path, param_groups: list) -> dict:
    state: dict[int, dict] = {}
    for key, v in load_file(path).items():
        i, name = key.split(".", 1)
        state.setdefault(int(i), {})[name] = v
    return {"state": state, "param_groups": param_groups}


def plot(stats: TrainStats, path: Path) -> bool:
    """Write the loss curves to ``path``; False (and a warning) when matplotlib is not installed."""
    try:
        import matplotlib
    except ModuleNotFoundError:
        log.warning(NO_PLOT)
        return False

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    ax[0].plot(stats.steps, stats.fvu)
    ax[0].set(xlabel="step", ylabel="FVU (train batch)", yscale="log", title="reconstruction")
    ax[1].plot(stats.steps, stats.dead)
    ax[1].set(xlabel="step", ylabel="dead latents", title="dead latents")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def sae_train(model, tok, *, model_name: str, layer: int, width: int, k: int, chars: int, steps: int, batch: int,
              out: Path, lr: float = 2e-4, seed: int = 0, command: str = "", corpus: Path | None = None,
              context: int = 1024) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    raw = collect(model, tok, corpus_texts(corpus, chars) if corpus else default_texts(chars, seed), layer,
                  out / "activations.safetensors", context=context)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(raw), generator=g)
    n_held = min(20_000, len(raw) // 10)
    held = raw[perm[:n_held]].float()
    train = raw[perm[n_held:]]  # float16; scaled and cast per batch
    del raw
    s = scaling_factor(train[: 200_000].float())
    sae = TopKSAE(train.shape[1], width, k, seed)
    ck = out / "checkpoint"
    stats, start, opt_state = TrainStats(), 0, None
    if (ck / "state.json").exists():  # resume
        st = json.loads((ck / "state.json").read_text())
        w = load_file(ck / "weights.safetensors")
        with torch.no_grad():
            for name in ("W_enc", "W_dec", "b_enc", "b_dec"):
                getattr(sae, name).data = w[name]
        stats, start = TrainStats(**st["stats"]), st["step"] + 1
        opt_state = _load_optimizer(ck / "optimizer.safetensors", st["param_groups"])

    def checkpoint(step: int, stats: TrainStats, opt: dict) -> None:
        ck.mkdir(exist_ok=True)
        save_file({n: getattr(sae, n).detach().contiguous() for n in ("W_enc", "W_dec", "b_enc", "b_dec")},
                  ck / "weights.safetensors")
        save_file({f"{i}.{k}": v.contiguous() for i, st in opt["state"].items() for k, v in st.items()},
                  ck / "optimizer.safetensors")  # safetensors, never pickle
        (ck / "state.json").write_text(json.dumps({"step": step, "stats": stats.__dict__,
                                                   "param_groups": opt["param_groups"]}))

    stats, _ = train_sae(sae, train, scale=s, steps=steps, batch=batch, lr=lr, seed=seed, stats=stats, start_step=start,
                         opt_state=opt_state, checkpoint=checkpoint)
    fvu, l0, never = fvu_of(sae, held * s)
    fvu_t, massive = fvu_typical(sae, held * s)
    save_saelens(sae, out / "sae", s=s, layer=layer, model_name=model_name)
    plotted = plot(stats, out / "loss.png")
    result = {"layer": layer, "width": width, "k": k, "tokens_collected": len(train) + n_held,
              "train_tokens_seen": stats.tokens, "steps": steps, "heldout_fvu": fvu, "heldout_fvu_typical": fvu_t,
              "heldout_massive_tokens": massive, "heldout_l0": l0, "never_fire_on_heldout": never,
              "dead_at_end": stats.dead[-1] if stats.dead else None, "scaling_factor": s,
              "minutes": (time.time() - t0) / 60, "command": command}
    (out / "report.json").write_text(json.dumps(result, indent=2))
    (out / "report.md").write_text(f"""# TopK SAE, layer {layer}, width {width}, k {k}

Command: `{command}`

| held-out FVU, ordinary tokens | held-out FVU, all | held-out L0 | never firing (held-out) | dead at end | \
tokens collected | token passes | minutes (this run) |
|---|---|---|---|---|---|---|---|
| {fvu_t:.3f} | {fvu:.3f} | {l0:.1f} | {never} | {result['dead_at_end']} | {result['tokens_collected']} | \
{stats.tokens} | {result['minutes']:.1f} |

"Ordinary tokens": norm ≤ 10× the median; {massive} of {len(held)} held-out tokens are "massive activations"
(norm up to ≈150× the median) that hold most of the variance, so the FVU over all tokens mostly measures them.
The training-batch FVU in the plot jumps for the same reason (a batch with or without one of them).

{"![loss](loss.png)" if plotted else NO_PLOT + "."}

Saved in SAELens format in `sae/` (the training scaling factor {s:.5f} folded into the weights, so it reads raw
activations, in SAELens too); turn latents into a pack with
`steer pack import saelens {out / 'sae'} DST --features ... --layer {layer} --id ID`.
""")
    return result
