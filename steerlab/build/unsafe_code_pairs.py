"""The ``unsafe-code`` monitor from matched pairs: a token probe whose *max over a request* tells an insecure program
from its fixed twin.

Data: hand-written insecure/fixed twins (:mod:`steerlab.build.unsafe_code_handwritten`, 96 training pairs, and the
earlier held-out sets A, C, D, E and F, 303 pairs in all), each raw, in a chat message, in markdown, or cut off; plus
ordinary code (Python standard library windows). Token labels: in an insecure twin, the tokens of the differing
region are positive and the tokens before it (text both twins share) negative; tokens after it are left out (they
have seen the construct, so they are neither clean negatives nor the construct); every token of a fixed twin and of
ordinary code is negative. So no shared line can carry the score: its tokens are negatives in both twins.

Candidates: a layer, or several layers read as one probe (``Σ_l h_l·w_l + b``, their residuals side by side;
served as a format-v2 pack with ``readout: "sum"``). Training, per candidate: a class-balanced token logistic
probe as a warm start, then the served statistic itself — program score = max of the logit over the program's
tokens (the sink excluded), exactly what the serving monitor computes — trained directly (:func:`fit_max`: the top
construct token of an insecure twin up, the top token of a fixed twin or ordinary program down). Selection by
leave-one-set-out cross-validation over the hand-written sets (:func:`cross_validate`): the candidate with the best
mean AUROC on the set left out ships, fit on every set, with the mean of the folds' thresholds (highest precision at
recall ≥ 0.85). Generated pairs (:mod:`steerlab.build.code_pairs`) are a dev display only since version 6. The
held-out evaluation (:mod:`steerlab.eval.unsafe_code`, set G) runs after.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
from dataclasses import dataclass

import torch
from tqdm import tqdm

from steering.hooks import StopForward, decoder_layers, stop_after
from steering.pack import ModelInfo, save_pack
from steerlab.build import unsafe_code_handwritten as handwritten_train
from steerlab.build.code_lines import stdlib_files
from steerlab.build.code_pairs import HANDWRITTEN_CONTEXTS, Sample, generate, handwritten_rows
from steerlab.eval.data import unsafe_code_heldout as set_a  # data only: sets A, C, D and E are trained on
from steerlab.eval.data import unsafe_code_heldout_c as set_c
from steerlab.eval.data import unsafe_code_heldout_d as set_d
from steerlab.eval.data import unsafe_code_heldout_e as set_e
from steerlab.eval.data import unsafe_code_heldout_f as set_f
from steerlab.metrics import auroc, fit_logistic

# Version 6's cross-validation compared single layers 9-21 (layer 18 led) and an offline experiment read layers
# together (decision 77); version 7 chooses among layer 18 and the two multi-layer read-outs of that experiment.
CANDIDATES: tuple[tuple[int, ...], ...] = ((18,), (12, 18), (15, 18, 21))
LICENSE = ("generated and hand-written code (steerlab/build/, steerlab/eval/data/; Apache-2.0 with this project); "
           "Python stdlib: PSF-2.0")


def model_text(tok, text: str, context: str) -> tuple[str, int]:
    """What the model reads for a program in ``context`` and where the program starts in it: raw text (as
    ``/v1/completions`` sends it) or, for chat contexts, the chat template around a user message."""
    if context in ("chat", "markdown"):
        full = tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                       tokenize=False)
        return full, full.index(text)
    return text, 0


@dataclass
class Program:
    text: str
    label: int  # 1 insecure, 0 fixed / ordinary
    span: tuple[int, int] | None  # characters of the construct in ``text`` (insecure twins)
    pair: int | None  # index of the pair it belongs to
    cls: str
    context: str


def programs(tok, samples: list[Sample], ordinary: list[str]) -> list[Program]:
    out = []
    for i, s in enumerate(samples):
        for text, span, label in ((s.insecure, s.span, 1), (s.fixed, s.fixed_span, 0)):
            full, off = model_text(tok, text, s.context)
            out.append(Program(full, label, (span[0] + off, span[1] + off), i, s.cls, s.context))
    out += [Program(t, 0, None, None, "ordinary", "raw") for t in ordinary]
    return out


@torch.no_grad()
def residuals(model, tok, texts: list[str], layers, desc: str = "programs", batch: int = 16) -> list[tuple[dict, list]]:
    """Per text: ({layer: resid_post [T, d] float16}, token char offsets); the sink is position 0. Texts run in
    right-padded batches of similar length (a causal model's real tokens never attend to the padding after them)."""
    box: dict[int, torch.Tensor] = {}
    mods = decoder_layers(model)
    hooks = [mods[layer].register_forward_hook(lambda m, a, o, layer=layer: box.__setitem__(
        layer, (o[0] if isinstance(o, tuple) else o).half())) for layer in layers]
    encs = [tok(t, return_offsets_mapping=True, add_special_tokens=False, truncation=True, max_length=1024)
            for t in texts]
    order = sorted(range(len(texts)), key=lambda i: len(encs[i]["input_ids"]))
    out: list = [None] * len(texts)
    try:
        with tqdm(total=len(texts), desc=desc, unit="prog") as bar, stop_after(model, max(layers)):
            for lo in range(0, len(order), batch):
                idx = order[lo: lo + batch]
                T = max(len(encs[i]["input_ids"]) for i in idx)
                ids = torch.zeros(len(idx), T, dtype=torch.long)
                mask = torch.zeros(len(idx), T, dtype=torch.long)
                for j, i in enumerate(idx):
                    n = len(encs[i]["input_ids"])
                    ids[j, :n], mask[j, :n] = torch.tensor(encs[i]["input_ids"]), 1
                with contextlib.suppress(StopForward):
                    model(input_ids=ids, attention_mask=mask, use_cache=False)
                for j, i in enumerate(idx):
                    n = len(encs[i]["input_ids"])
                    out[i] = ({layer: box[layer][j, :n].clone() for layer in layers}, encs[i]["offset_mapping"])
                bar.update(len(idx))
    finally:
        for h in hooks:
            h.remove()
    return out


def token_labels(p: Program, offsets: list) -> list[int | None]:
    """Per token: 1 inside the construct (from the first differing character; at least the token there), 0 on
    text the twins share before it and everywhere in fixed / ordinary programs, None (left out) after it and at
    the sink."""
    labels: list[int | None] = []
    end = max(p.span[1], p.span[0] + 1) if p.span else 0
    for t, (s, e) in enumerate(offsets):
        if t == 0:
            labels.append(None)  # the attention sink: never monitored
        elif p.label == 0:
            labels.append(0)
        elif e <= p.span[0]:
            labels.append(0)  # text the twins share: identical residuals, so it must not score
        elif s < end:
            labels.append(1)
        else:
            labels.append(None)
    return labels


def candidate_key(layers: tuple[int, ...]) -> str:
    """A candidate's name and its key in :func:`side_by_side` activations: ``"18"``, ``"12+18"``."""
    return "+".join(map(str, layers))


def side_by_side(acts: list, layers: tuple[int, ...]) -> list:
    """Each program's residuals at ``layers`` concatenated along the feature axis, under :func:`candidate_key`: a
    linear probe on them is ``Σ_l h_l·w_l + b``, one probe over several layers."""
    key = candidate_key(layers)
    if len(layers) == 1:
        return [({key: a[layers[0]]}, offs) for a, offs in acts]
    return [({key: torch.cat([a[layer] for layer in layers], -1)}, offs) for a, offs in acts]


def program_scores(acts, layer, w: torch.Tensor, b: float) -> list[float]:
    return [float((a[layer][1:].float() @ w + b).max()) if a[layer].shape[0] > 1 else -1e9 for a, _ in acts]


def pair_accuracy(progs: list[Program], scores: list[float]) -> float:
    by_pair: dict[int, dict[int, float]] = {}
    for p, s in zip(progs, scores, strict=True):
        if p.pair is not None:
            by_pair.setdefault(p.pair, {})[p.label] = s
    wins = [d[1] > d[0] for d in by_pair.values() if len(d) == 2]
    return sum(wins) / max(len(wins), 1)


def threshold_points(scores: list[float], labels: list[int]):
    """Every candidate threshold, midway between neighbouring scores, with its (threshold, precision, recall)."""
    order, positives = sorted(set(scores)), max(sum(labels), 1)
    for lo, hi in zip(order, order[1:], strict=False):
        t = (lo + hi) / 2
        tp = sum(s > t and y for s, y in zip(scores, labels, strict=True))
        fp = sum(s > t and not y for s, y in zip(scores, labels, strict=True))
        yield t, tp / max(tp + fp, 1), tp / positives


def best_f1_threshold(scores: list[float], labels: list[int]) -> tuple[float, float, float]:
    """(threshold, precision, recall) with the best F1 (the lowest such threshold)."""
    best = (float("-inf"), 0.0, 0.0, 0.0)
    for t, p, r in threshold_points(scores, labels):
        f1 = 2 * p * r / max(p + r, 1e-9)
        if f1 > best[0]:
            best = (f1, t, p, r)
    return best[1], best[2], best[3]


def recall_threshold(scores: list[float], labels: list[int], min_recall: float = 0.85
                     ) -> tuple[float, float, float]:
    """(threshold, precision, recall): the highest precision whose recall is at least ``min_recall`` (a monitor
    that misses insecure code is no monitor; issue 12 asks recall ≥ 0.8, this keeps a margin), ties to the higher
    recall; the best-F1 point where no threshold reaches ``min_recall``."""
    best = None
    for t, p, r in threshold_points(scores, labels):
        if r >= min_recall and (best is None or (p, r) > (best[1], best[2])):
            best = (t, p, r)
    return best or best_f1_threshold(scores, labels)


def _stack(progs: list[Program], acts, layer: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All tokens of ``progs`` at ``layer``: ``X [N, d]``, label per token (1, 0, -1 = left out), program index."""
    X, lab, pid = [], [], []
    for i, (p, (a, offs)) in enumerate(zip(progs, acts, strict=True)):
        labels = token_labels(p, offs)
        X.append(a[layer].float())
        lab += [-1 if v is None else v for v in labels]
        pid += [i] * len(labels)
    return torch.cat(X), torch.tensor(lab), torch.tensor(pid)


def fit_token_logistic(X, lab, max_neg: int = 80_000, seed: int = 0) -> tuple[torch.Tensor, float]:
    """Every construct token against (a sample of) every negative token: the warm start for :func:`fit_max`."""
    Xn = X[lab == 0]
    if len(Xn) > max_neg:
        Xn = Xn[torch.randperm(len(Xn), generator=torch.Generator().manual_seed(seed))[:max_neg]]
    return fit_logistic(X[lab == 1], Xn)


def fit_max(progs: list[Program], X, lab, pid, w0: torch.Tensor, b0: float, *, steps: int = 400, lr: float = 0.02,
            l2: float = 1e-3) -> tuple[torch.Tensor, float]:
    """Train the statistic the monitor serves — the max over a program's tokens — directly (multiple-instance
    learning): the highest logit among an insecure twin's construct tokens is pushed up, the highest logit of a
    fixed twin or ordinary program pushed down, plus every negative token a little. A token probe alone scores all
    construct tokens and so also the generic ones a fixed twin shares; this asks only that *some* token of the
    construct beat *every* token of the fix. Standardised features, Adam, warm start from the token probe."""
    mu, sd = X.mean(0), X.std(0) + 1e-6
    Z = (X - mu) / sd
    n, neg_inf = len(progs), torch.tensor(-1e4)
    fixed_bag = torch.tensor([p.label == 0 for p in progs])
    pos, neg = lab == 1, lab == 0
    w = (w0 * sd).clone().requires_grad_(True)
    b = torch.tensor([b0 + float(mu @ w0)], requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=lr)
    sp = torch.nn.functional.softplus
    for _ in tqdm(range(steps), desc="max-pooled probe", unit="step", leave=False):
        z = Z @ w + b
        top_pos = torch.full((n,), -1e4).scatter_reduce(0, pid, torch.where(pos, z, neg_inf), "amax")
        top_neg = torch.full((n,), -1e4).scatter_reduce(0, pid, torch.where(neg, z, neg_inf), "amax")
        loss = (sp(-top_pos[top_pos > -1e3]).mean() + sp(top_neg[fixed_bag & (top_neg > -1e3)]).mean()
                + 0.5 * sp(z[neg]).mean() + l2 * (w * w).sum())
        opt.zero_grad()
        loss.backward()
        opt.step()
    w_raw = w.detach() / sd
    return w_raw, float(b.detach() - mu @ w_raw)


def fit_layer(progs: list[Program], acts, layer: int, seed: int = 0, l2: float = 1e-3) -> tuple[torch.Tensor, float]:
    X, lab, pid = _stack(progs, acts, layer)
    w0, b0 = fit_token_logistic(X, lab, seed=seed)
    return fit_max(progs, X, lab, pid, w0, b0, l2=l2)


def diff_span(a: str, b: str) -> tuple[int, int]:
    """Characters of ``a`` from its first difference with ``b`` to the end of its last one (the construct)."""
    start = len(os.path.commonprefix([a, b]))
    tail = len(os.path.commonprefix([a[start:][::-1], b[start:][::-1]]))
    return start, len(a) - tail


def handwritten_programs(tok, data, spans: bool = False) -> list[Program]:
    """A hand-written set's rows (:func:`steerlab.build.code_pairs.handwritten_rows`) as programs; a pair in each
    context is its own pair (``pair * 10 + context``), so pair accuracy compares twins in the same context. With
    ``spans``, an insecure twin's construct is where it differs from its fix (to train on it)."""
    rows, out = handwritten_rows(data), []
    for bad, good in zip(rows[::2], rows[1::2], strict=True):  # rows come as (insecure, fixed) per pair and context
        span = diff_span(bad["source"], good["source"]) if spans else None
        for r, sp in ((bad, span), (good, None)):
            text, off = model_text(tok, r["source"], r["model_context"])
            out.append(Program(text, r["label"], sp and (sp[0] + off, sp[1] + off),
                               r["pair"] * 10 + HANDWRITTEN_CONTEXTS.index(r["context"]), r["cls"], r["context"]))
    return out


# Hand-written pairs the build trains on (construct = where the twins differ): since version 6 every set written
# before it; in version 7 the 96 training pairs and sets A, C, D, E and F (held-out sets of versions 1, 3, 4, 5 and
# 6, seen since). The candidate and threshold come from leave-one-set-out cross-validation over these sets; set G
# (steerlab.eval) is what the card reports.
HANDWRITTEN_TRAIN = {"training pairs": handwritten_train, "set A": set_a, "set C": set_c, "set D": set_d,
                     "set E": set_e, "set F": set_f}


def cross_validate(folds: dict, acts: dict, plain, acts_plain, acts_ord, layer: int, *, seed: int, l2: float
                   ) -> dict:
    """Leave one hand-written set out: fit on the other sets and the ordinary windows, score the set left out. Each
    set was written at its own time for its own version, so a set left out is the nearest thing to the next
    independently written program. Per fold: AUROC, pair accuracy and the threshold of the highest precision at
    recall ≥ 0.85 on the set left out with the ordinary dev windows."""
    folds_out = {}
    for held in folds:
        rest = [name for name in folds if name != held]
        w, b = fit_layer([p for n in rest for p in folds[n]] + plain, [a for n in rest for a in acts[n]] + acts_plain,
                         layer, seed=seed, l2=l2)
        s, y = program_scores(acts[held], layer, w, b), [p.label for p in folds[held]]
        s_ord = program_scores(acts_ord, layer, w, b)
        thr, prec, rec = recall_threshold(s + s_ord, y + [0] * len(s_ord))
        folds_out[held] = {"auroc": auroc(s, y), "pair_acc": pair_accuracy(folds[held], s), "threshold": thr,
                           "precision": prec, "recall": rec}
    mean = {k: sum(f[k] for f in folds_out.values()) / len(folds_out)
            for k in ("auroc", "pair_acc", "threshold", "precision", "recall")}
    return {"layer": layer, "folds": folds_out, **mean}


def training_data(model, tok, layers, *, n_dev: int = 16, n_ordinary: int = 200, seed: int = 0) -> dict:
    """The programs and their residuals at ``layers``: the hand-written sets (``folds``), ordinary stdlib windows
    (``plain``, three quarters; the rest in ``dev``, with generated dev pairs) and the ordinary dev windows' acts."""
    dev_s = generate(n_dev, seed + 1000)
    ordinary = ["\n".join(f.lines) for f in stdlib_files(n_ordinary, seed, max_lines=40)]
    random.Random(seed).shuffle(ordinary)
    n_ord_train = n_ordinary * 3 // 4
    plain = programs(tok, [], ordinary[:n_ord_train])
    dev = programs(tok, dev_s, ordinary[n_ord_train:])
    folds = {name: handwritten_programs(tok, data, spans=True) for name, data in HANDWRITTEN_TRAIN.items()}
    acts_plain = residuals(model, tok, [p.text for p in plain], layers, "ordinary programs")
    acts_dev = residuals(model, tok, [p.text for p in dev], layers, "generated dev programs")
    acts = {name: residuals(model, tok, [p.text for p in progs], layers, f"{name} programs")
            for name, progs in folds.items()}
    acts_ord = [a for a, p in zip(acts_dev, dev, strict=True) if p.cls == "ordinary"]
    return {"dev_samples": dev_s, "plain": plain, "dev": dev, "folds": folds, "acts_plain": acts_plain,
            "acts_dev": acts_dev, "acts": acts, "acts_ord": acts_ord}


def build_unsafe_code_pairs_pack(model, tok, info: ModelInfo, *, out, n_dev: int = 16, n_ordinary: int = 200,
                                 seed: int = 0, candidates=CANDIDATES, l2: float = 1e-2, command: str = "") -> dict:
    """Candidates: a layer or a set of layers read as one probe, each trained on every hand-written set with ordinary
    stdlib code. Leave-one-set-out cross-validation (:func:`cross_validate`) picks the candidate with the best mean
    AUROC over the sets left out; the shipped probe is then fit on all sets there, with the mean of the folds'
    thresholds. Generated pairs (another seed, never trained on) are shown for the shipped probe."""
    layers = sorted({layer for c in candidates for layer in c})
    d = training_data(model, tok, layers, n_dev=n_dev, n_ordinary=n_ordinary, seed=seed)
    dev_s, plain, dev, folds = d["dev_samples"], d["plain"], d["dev"], d["folds"]
    n_ord_train, ordinary_dev = len(plain), [p for p in dev if p.cls == "ordinary"]
    cv = []
    for c in candidates:
        key = candidate_key(c)
        acts = {name: side_by_side(a, c) for name, a in d["acts"].items()}
        cv.append(cross_validate(folds, acts, plain, side_by_side(d["acts_plain"], c),
                                 side_by_side(d["acts_ord"], c), key, seed=seed, l2=l2))
        r = cv[-1]
        print(f"  layers {key}: cross-validated AUROC {r['auroc']:.3f} ("
              + ", ".join(f"{n} {f['auroc']:.3f}" for n, f in r["folds"].items())
              + f"), pair accuracy {r['pair_acc']:.3f}, threshold {r['threshold']:.3f}", flush=True)
    best = max(cv, key=lambda r: (r["auroc"], r["pair_acc"]))
    chosen = next(c for c in candidates if candidate_key(c) == best["layer"])
    key, thr = best["layer"], best["threshold"]
    progs = [p for f in folds.values() for p in f] + plain
    all_acts = side_by_side([a for f in d["acts"].values() for a in f] + d["acts_plain"], chosen)
    w, b = fit_layer(progs, all_acts, key, seed=seed, l2=l2)
    acts_dev = side_by_side(d["acts_dev"], chosen)
    s_dev = program_scores(acts_dev, key, w, b)
    pos_scores = [s for s, p in zip(program_scores(all_acts, key, w, b), progs, strict=True) if p.label]
    hand_pairs = {name: len(data.PAIRS) for name, data in HANDWRITTEN_TRAIN.items()}
    result = {
        "layer": key, "threshold": thr, "cv": cv, "cv_precision": best["precision"], "cv_recall": best["recall"],
        "generated_dev_auroc": auroc(s_dev, [p.label for p in dev]), "generated_dev_pair_acc": pair_accuracy(dev, s_dev),
        "dev_pairs": len(dev_s), "ordinary_train": n_ord_train, "ordinary_dev": len(ordinary_dev),
        "handwritten_pairs": hand_pairs,
    }
    sets = ", ".join(f"_{n[-1].lower()}.py" for n in HANDWRITTEN_TRAIN if n.startswith("set ") and n != "set A")
    manifest = {
        "id": "unsafe-code", "version": "7", "title": "Unsafe Python code (monitor)",
        "description": "Logistic probe on residual tokens"
                       + (f" of layers {' and '.join(map(str, chosen))} read as one probe" if len(chosen) > 1 else "")
                       + ", trained on matched insecure/fixed program pairs: its "
                       "max over a request's tokens scores an insecure construct (shell injection, eval/exec of "
                       "input, SQL built from strings, unsafe deserialisation, weak hashes and ciphers, hard-coded "
                       "secrets, insecure randomness, mktemp, TLS verification off, XXE, path traversal, debug/bind-"
                       "all, JWT without verification, world-writable files) above its fixed twin. Monitor only.",
        "model": info.model_dump(), "encoder": {"kind": "probe"},
        "features": [{"name": "python", "index": 0, "label": "insecure Python code",
                      "description": "probe logit; > threshold on some token = an insecure construct is present",
                      "default_op": "monitor",
                      "max_activation": round(float(torch.tensor(pos_scores).quantile(0.99)), 6),
                      "threshold": round(thr, 6), "tags": ["safety", "code"], "action": "flag"}],
        "provenance": {"source": "hand-written matched pairs (steerlab/build/unsafe_code_handwritten.py, "
                                 f"steerlab/eval/data/unsafe_code_heldout.py, {sets}) + Python stdlib windows",
                       "corpus": ", ".join(f"{name}: {n} pairs" for name, n in hand_pairs.items())
                                 + "; each raw, in chat, in markdown and cut off", "command": command,
                       "date": dt.date.today().isoformat(), "license": LICENSE},
    }
    where = probe_sites(chosen, w, b, info.d_model)
    tensors = where.pop("tensors")
    pack = save_pack(out, manifest | where, tensors)
    return {"pack": pack, **result}


def probe_sites(layers: tuple[int, ...], w: torch.Tensor, b: float, d: int) -> dict:
    """The manifest's site keys and the tensors of a probe ``w [len(layers) * d]``, ``b`` over ``layers``. One layer:
    a v1 pack whose ``W_dec = w / w·w`` (clamp/suppress would move the logit). Several: a v2 pack with ``readout:
    "sum"`` (monitor-only: zero decoder rows), ``W_enc.i`` the slice of ``w`` for site ``i``, the bias at site 0."""
    if len(layers) == 1:
        return {"site": {"layer": layers[0], "point": "resid_post"},
                "tensors": {"W_dec": (w / w.dot(w))[None], "W_enc": w[:, None], "b_enc": torch.tensor([b])}}
    tensors = {}
    for i, chunk in enumerate(w.split(d)):
        tensors |= {f"W_dec.{i}": torch.zeros(1, d), f"W_enc.{i}": chunk[:, None].clone(),
                    f"b_enc.{i}": torch.tensor([b if i == 0 else 0.0])}
    return {"sites": [{"layer": layer, "point": "resid_post"} for layer in layers], "readout": "sum",
            "tensors": tensors}
