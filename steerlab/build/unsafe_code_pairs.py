"""The ``unsafe-code`` monitor from matched pairs: a token probe whose *max over a request* tells an insecure program
from its fixed twin.

Data: hand-written insecure/fixed twins (:mod:`steerlab.build.unsafe_code_handwritten`, 96 training pairs, and the
earlier held-out sets A and C) and generated ones (:mod:`steerlab.build.code_pairs`, 15 vulnerability classes), each
raw, in a chat message, in markdown, or cut off; plus ordinary code (Python standard library windows). Token labels:
in an insecure twin, the tokens of the differing region are positive and the tokens before it (text both twins
share) negative; tokens after it are left out (they have seen the construct, so they are neither clean negatives nor
the construct); every token of a fixed twin and of ordinary code is negative. So no shared line can carry the score:
its tokens are negatives in both twins.

Training, per candidate (layer × training programs: generated and hand-written pairs, or hand-written alone): a
class-balanced token logistic probe as a warm start, then the served statistic itself — program score = max of the
logit over the program's tokens (the sink excluded), exactly what the serving monitor computes — trained directly
(:func:`fit_max`: the top construct token of an insecure twin up, the top token of a fixed twin or ordinary program
down). Selection on hand-written set D (never trained on): the candidate with the best AUROC there ships; its
threshold is the highest precision at recall ≥ 0.85 on set D and ordinary dev programs. The held-out evaluation
(:mod:`steerlab.eval.unsafe_code`, set E) runs after.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
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
from steerlab.eval.data import unsafe_code_heldout as set_a  # data only: sets A, C (trained on) and D (selection)
from steerlab.eval.data import unsafe_code_heldout_c as set_c
from steerlab.eval.data import unsafe_code_heldout_d as set_d
from steerlab.metrics import auroc, fit_logistic

LAYERS = (9, 12, 15, 18, 21)
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


def program_scores(acts, layer: int, w: torch.Tensor, b: float) -> list[float]:
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


# Hand-written pairs the build trains on (construct = where the twins differ): the 96 training pairs and sets A and C
# (held-out sets of versions 1 and 3, seen since). Set D selects; set E (steerlab.eval) is what the card reports.
HANDWRITTEN_TRAIN = {"training pairs": handwritten_train, "set A": set_a, "set C": set_c}
TRAIN_DATA = ("generated + hand-written", "hand-written")  # the candidates' training programs (with ordinary code)


def build_unsafe_code_pairs_pack(model, tok, info: ModelInfo, *, out, n_train: int = 60, n_dev: int = 16,
                                 n_ordinary: int = 200, seed: int = 0, layers=LAYERS, l2: float = 1e-2,
                                 command: str = "") -> dict:
    """Candidates: each layer × (generated and hand-written pairs | hand-written pairs alone; both with ordinary
    stdlib code); the one with the best AUROC on hand-written set D (selection, never trained on) ships, with the
    threshold of the highest precision at recall ≥ 0.85 on set D and the ordinary dev windows."""
    train_s, dev_s = generate(n_train, seed), generate(n_dev, seed + 1000)
    ordinary = ["\n".join(f.lines) for f in stdlib_files(n_ordinary, seed, max_lines=40)]
    random.Random(seed).shuffle(ordinary)
    n_ord_train = n_ordinary * 3 // 4
    generated = programs(tok, train_s, [])
    plain = programs(tok, [], ordinary[:n_ord_train])
    hand = [p for data in HANDWRITTEN_TRAIN.values() for p in handwritten_programs(tok, data, spans=True)]
    dev = programs(tok, dev_s, ordinary[n_ord_train:])
    sel = handwritten_programs(tok, set_d)
    acts_gen = residuals(model, tok, [p.text for p in generated], layers, "generated programs")
    acts_plain = residuals(model, tok, [p.text for p in plain], layers, "ordinary programs")
    acts_hand = residuals(model, tok, [p.text for p in hand], layers, "hand-written programs")
    acts_dev = residuals(model, tok, [p.text for p in dev], layers, "dev programs")
    acts_sel = residuals(model, tok, [p.text for p in sel], layers, "set D programs")
    train = {TRAIN_DATA[0]: (generated + hand + plain, acts_gen + acts_hand + acts_plain),
             TRAIN_DATA[1]: (hand + plain, acts_hand + acts_plain)}
    y_dev, y_sel = [p.label for p in dev], [p.label for p in sel]
    ordinary_dev = [p for p in dev if p.cls == "ordinary"]
    cands = {}
    for data, layer in itertools.product(TRAIN_DATA, layers):
        w, b = fit_layer(*train[data], layer, seed=seed, l2=l2)
        s, sc = program_scores(acts_dev, layer, w, b), program_scores(acts_sel, layer, w, b)
        cands[data, layer] = {"w": w, "b": b, "dev_auroc": auroc(s, y_dev), "dev_pair_acc": pair_accuracy(dev, s),
                              "sel_auroc": auroc(sc, y_sel), "sel_pair_acc": pair_accuracy(sel, sc),
                              "calib": sc + [x for x, p in zip(s, dev, strict=True) if p.cls == "ordinary"]}
        c = cands[data, layer]
        print(f"  {data}, layer {layer}: generated dev AUROC {c['dev_auroc']:.3f}, pair accuracy "
              f"{c['dev_pair_acc']:.3f}; set D AUROC {c['sel_auroc']:.3f}, pair accuracy {c['sel_pair_acc']:.3f}",
              flush=True)
    data, layer = max(cands, key=lambda k: (cands[k]["sel_auroc"], cands[k]["sel_pair_acc"]))
    best = cands[data, layer]
    thr, prec, rec = recall_threshold(best["calib"], y_sel + [0] * len(ordinary_dev))
    w, b = best["w"], best["b"]
    progs, acts = train[data]
    pos_scores = [s for s, p in zip(program_scores(acts, layer, w, b), progs, strict=True) if p.label]
    hand_pairs = {name: len(d.PAIRS) for name, d in HANDWRITTEN_TRAIN.items()}
    result = {
        "layer": layer, "train_data": data, "threshold": thr, "dev_precision": prec, "dev_recall": rec,
        "dev": [{"train_data": d, "layer": k, "auroc": v["dev_auroc"], "pair_acc": v["dev_pair_acc"],
                 "sel_auroc": v["sel_auroc"], "sel_pair_acc": v["sel_pair_acc"]} for (d, k), v in cands.items()],
        "train_pairs": len(train_s), "dev_pairs": len(dev_s), "classes": sorted({s.cls for s in train_s}),
        "ordinary_train": n_ord_train, "ordinary_dev": len(ordinary_dev), "handwritten_pairs": hand_pairs,
        "set_d_pairs": len(set_d.PAIRS),
    }
    w_dec = w / w.dot(w)  # clamp/suppress move the logit: W_dec · W_enc = 1
    manifest = {
        "id": "unsafe-code", "version": "5", "title": "Unsafe Python code (monitor)",
        "description": "Logistic probe on residual tokens, trained on matched insecure/fixed program pairs: its "
                       "max over a request's tokens scores an insecure construct (shell injection, eval/exec of "
                       "input, SQL built from strings, unsafe deserialisation, weak hashes and ciphers, hard-coded "
                       "secrets, insecure randomness, mktemp, TLS verification off, XXE, path traversal, debug/bind-"
                       "all, JWT without verification, world-writable files) above its fixed twin. Monitor only.",
        "model": info.model_dump(), "site": {"layer": layer, "point": "resid_post"}, "encoder": {"kind": "probe"},
        "features": [{"name": "python", "index": 0, "label": "insecure Python code",
                      "description": "probe logit; > threshold on some token = an insecure construct is present",
                      "default_op": "monitor",
                      "max_activation": round(float(torch.tensor(pos_scores).quantile(0.99)), 6),
                      "threshold": round(thr, 6), "tags": ["safety", "code"], "action": "flag"}],
        "provenance": {"source": ("generated matched pairs (steerlab/build/code_constructs.py, code_pairs.py) + "
                                  if data == TRAIN_DATA[0] else "")
                                 + "hand-written matched pairs (steerlab/build/unsafe_code_handwritten.py, "
                                   "steerlab/eval/data/unsafe_code_heldout.py and unsafe_code_heldout_c.py) + Python "
                                   "stdlib windows",
                       "corpus": (f"{len(train_s)} generated train pairs (seed {seed}); " if data == TRAIN_DATA[0]
                                  else "")
                                 + ", ".join(f"{name}: {n} pairs" for name, n in hand_pairs.items())
                                 + "; each raw, in chat, in markdown and cut off", "command": command,
                       "date": dt.date.today().isoformat(), "license": LICENSE},
    }
    pack = save_pack(out, manifest, {"W_dec": w_dec[None], "W_enc": w[:, None], "b_enc": torch.tensor([b])})
    return {"pack": pack, **result}


def card(manifest: dict, build: dict, heldout: dict, heldout_table: str, set_description: str) -> str:
    """The pack card: how it was built, dev numbers (selection), held-out numbers (``heldout``, its table and its
    description from :mod:`steerlab.eval.unsafe_code`, passed in so that build never imports eval), limits."""
    f = manifest["features"][0]
    def mark(v: dict) -> str:
        return " (**shipped**)" if (v["train_data"], v["layer"]) == (build["train_data"], build["layer"]) else ""

    dev_rows = "\n".join(f"| {v['train_data']} | {v['layer']}{mark(v)} | {v['auroc']:.3f} | {v['pair_acc']:.3f} | "
                         f"{v['sel_auroc']:.3f} | {v['sel_pair_acc']:.3f} |" for v in build["dev"])
    c = heldout["contexts"]
    a = c["all"]
    goals = [("AUROC ≥ 0.95 raw", c["raw"]["probe_auroc"] >= 0.95), ("AUROC ≥ 0.95 in chat",
             c["chat"]["probe_auroc"] >= 0.95), ("pair accuracy ≥ 0.9", a["probe_pair_acc"] >= 0.9),
             ("precision ≥ 0.9 at the threshold", a["probe_precision"] >= 0.9),
             ("recall ≥ 0.8 at the threshold", a["probe_recall"] >= 0.8)]
    verdict = "; ".join(f"{g}: {'met' if ok else '**not met**'}" for g, ok in goals)
    hand = ", ".join(f"{name} ({n} pairs)" for name, n in build["handwritten_pairs"].items())
    return f"""# Unsafe Python code (`unsafe-code/python`) — monitor

{manifest['description']}

## How it was built
- Command: `{manifest['provenance']['command'] or 'steer probe train --task unsafe-code'}`
- Data: matched insecure/fixed pairs, each raw, in a chat message, in markdown and cut off after the construct.
  Hand-written: {hand}; the construct of a hand-written insecure twin is where it differs from its fix. Generated:
  {build['train_pairs']} pairs ({len(build['classes'])} classes: {', '.join(build['classes'])}; constructs in
  `steerlab/build/code_constructs.py`, written into function, method, async, web-entry-point and module-setting
  shapes). Ordinary code: {build['ordinary_train']} windows of the Python standard library. Candidate training
  programs: generated + hand-written, or hand-written alone (both with the ordinary windows).
- Token labels: the differing region of an insecure twin is positive; the text both twins share, every token of a
  fixed twin and ordinary code are negative (tokens after the construct are left out). Per candidate layer: a
  class-balanced L2 logistic token probe, then trained on the max over each program's tokens (multiple-instance:
  the best construct token of an insecure twin above every token of its fix). The activation is the logit
  `h·w + b`; the monitor takes its max over a request's tokens (the sink excluded), the statistic trained.
- Selection (dev): hand-written set D ({build['set_d_pairs']} pairs × 4 contexts,
  `steerlab/eval/data/unsafe_code_heldout_d.py`; the held-out set of version 3, never trained on), with
  {build['dev_pairs']} generated dev pairs (another seed) and {build['ordinary_dev']} ordinary windows shown too. The
  candidate (training programs × layer) with the best set-D AUROC ships; its threshold {f['threshold']} gives the
  highest precision at recall ≥ 0.85 on set D and the ordinary dev windows: precision {build['dev_precision']:.3f},
  recall {build['dev_recall']:.3f} there.

| training programs | layer | generated dev AUROC | generated dev pair acc. | set D AUROC | set D pair acc. |
|---|---|---|---|---|---|
{dev_rows}

## Measured on held-out set E (never trained on, never used to select)
{set_description} Reproduce with `steer eval unsafe-code` (writes docs/eval/unsafe-code.md, .png and .json).

{heldout_table}

Over all contexts: probe AUROC {a['probe_auroc']:.3f}, pair accuracy {a['probe_pair_acc']:.2f}, precision
{a['probe_precision']:.2f} / recall {a['probe_recall']:.2f} at the shipped threshold.

Against the goals of issue 12 (held-out): {verdict}.

## Limits
- {heldout['pairs']} pairs per context is a small set: one pair moves pair accuracy by {1 / heldout['pairs']:.3f}.
- The training programs were written by this project (templates and 167 hand-written pairs); kinds of vulnerable
  code absent from them are not covered, and a construct whose insecurity is an *absence* (a missing `basename`, a missing
  `verify`) has no token of its own to score.
- The score is a max over tokens: one high token anywhere in a long request decides it, so long pasted files carry
  more chances of a false alarm than the short programs measured here.
"""
