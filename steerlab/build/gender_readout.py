"""Build the ``gender`` pack as a *conditional readout eraser* (format v2, several sites and a condition).

The model writes its he/she decision into one direction of the last layers' residual stream: with RMSNorm weight
``γ`` and unembedding ``W_U``, ``logit(he) − logit(she) = (γ ⊙ (W_U[he] − W_U[she])) · h / rms(h)``. Removing the
component of ``h`` along ``v = γ ⊙ (W_U[he] − W_U[she])`` (``suppress`` of a probe feature with
``W_dec = W_enc = v/‖v‖``) makes the two pronouns exactly equally likely, whatever earlier layers derived from
the occupation. That would also erase *stated* gender ("My aunt is a mechanic. Every morning" → she) and touch
every other token, so the edit is **conditional**: a second feature, ``unstated``, is a logistic probe read at the
pack's lowest layer — "a pronoun is due here for a person whose gender was not stated" — and the pack's
``condition`` applies the eraser only at tokens where ``unstated`` is above its threshold, token by token, inside
the same forward (CAST's condition vector gating a behaviour, as a row of the feature table).

Data (all from :mod:`steerlab.build.bias_data`, ``fit`` split): the gate's positive class is the last token of
occupation prompts and of the unstated twins of stated prompts; its negative class is the last token of
stated-gender prompts (gendered nouns, appositives, names, titles, kinship nouns, earlier pronouns,
possessives/reflexives: :func:`agreement_prompts`, :func:`stated_prompts`, :func:`pronoun_cue_prompts`) and
ordinary tokens of neutral paragraphs (where no pronoun decision is pending, the eraser should not act).
Settings (gate layer, erase layers, threshold quantile) are
chosen by :func:`dev_sweep` on the ``dev`` split; ``steer eval bias`` reports on ``test`` and on the hand-written
held-out sets (:mod:`steerlab.eval.data.gender_heldout`, ``gender_heldout_b``), which no builder reads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import torch

from steering.pack import ModelInfo, save_pack
from steering.pack.io import FeaturePack
from steerlab.build.bias_data import (
    BIAS_LICENSE,
    BiasPrompt,
    agreement_prompts,
    neutral_texts,
    occupation_prompts,
    pronoun_cue_prompts,
    stated_prompts,
)
from steerlab.build.gender_cues import cue_prompts
from steerlab.eval.bias import agreement, evaluate_bias, forward_batches, pronoun_ids, pronoun_logprobs, suppressing
from steerlab.metrics import fit_logistic

PACK_ID = "gender"
ERASER, GATE = "gender", "unstated"
NEUTRAL_TOKENS = 4000  # ordinary-text positions in the gate's negative class


@dataclass(frozen=True)
class Recipe:
    gate_layer: int = 27
    erase_layers: tuple[int, ...] = (27, 28, 29)
    quantile: float = 0.99  # share of fit occupation prompts the gate opens on (sets the threshold)
    l2: float = 1e-2

    @property
    def layers(self) -> list[int]:
        """Pack sites: the gate's layer first (the read site, the lowest), then the other erase layers."""
        return [self.gate_layer, *sorted(set(self.erase_layers) - {self.gate_layer})]

    def describe(self) -> str:
        return (f"gate at layer {self.gate_layer}, erase at {', '.join(map(str, self.erase_layers))}, "
                f"threshold = p{100 * self.quantile:g} of fit occupation prompts")


def readout_direction(model, tokenizer) -> torch.Tensor:
    """``[d]`` unit ``γ ⊙ (W_U[he] − W_U[she])``: the residual direction the final norm and head read he/she from."""
    he, she = pronoun_ids(tokenizer)
    W_U = model.get_output_embeddings().weight.detach().float()  # [V, d]
    v = model.model.norm.weight.detach().float() * (W_U[he] - W_U[she])
    return v / v.norm()


@torch.no_grad()
def last_token_states(model, tokenizer, prompts: list[BiasPrompt], layers: list[int]) -> dict[int, torch.Tensor]:
    """Residual after each of ``layers`` at each prompt's last token: ``{layer: [n, d]}`` in prompt order."""
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i].text))
    out: dict[int, list[torch.Tensor]] = {L: [] for L in layers}
    for b in forward_batches(model, tokenizer, [prompts[i] for i in order], layers=layers, desc="gate data"):
        idx = torch.tensor(b.lengths) - 1
        for L in layers:
            out[L].append(b.acts[L][torch.arange(len(idx)), idx])
    inv = torch.empty(len(order), dtype=torch.long)
    inv[torch.tensor(order)] = torch.arange(len(order))
    return {L: torch.cat(v)[inv] for L, v in out.items()}


def gate_data(tokenizer, split: str, seed: int = 0, cues: bool = False) -> tuple[list[BiasPrompt], list[BiasPrompt]]:
    """(open, closed) prompts of a split for the gate: unstated-gender pronoun slots vs stated-gender ones (on
    ``fit``, with ``cues``, also the word-list cues of :mod:`steerlab.build.gender_cues`)."""
    stated = stated_prompts(tokenizer, split, seed) + pronoun_cue_prompts(split, seed)
    if cues and split == "fit":
        stated += cue_prompts(seed)
    opened = occupation_prompts(tokenizer, split, seed) + [p for p in stated if not p.target]
    closed = agreement_prompts(tokenizer, split, seed) + [p for p in stated if p.target]
    return opened, closed


@dataclass
class GateStates:
    """Residual states of the fit split at some layers: the gate's open class (last tokens), its closed class (last
    tokens of stated prompts, then ordinary neutral-text tokens) and the occupation prompts alone (threshold)."""

    opened: dict[int, torch.Tensor]
    closed: dict[int, torch.Tensor]
    occupation: dict[int, torch.Tensor]
    n_open: int
    n_stated: int
    n_neutral: int


@torch.no_grad()
def neutral_token_states(model, tokenizer, layers: list[int], n: int, seed: int = 0) -> dict[int, torch.Tensor]:
    """``n`` seeded positions (the sink excepted) of fit neutral paragraphs (≤ 128 tokens each), per layer."""
    texts = neutral_texts("fit", 48, seed)
    prompts = [BiasPrompt(tokenizer.decode(tokenizer(t)["input_ids"][:128], skip_special_tokens=True), 0, "", "neutral")
               for t in texts]
    out: dict[int, list[torch.Tensor]] = {L: [] for L in layers}
    for b in forward_batches(model, tokenizer, prompts, layers=layers, batch_size=8, desc="neutral text"):
        for i, n_tok in enumerate(b.lengths):
            for L in layers:
                out[L].append(b.acts[L][i, 1:n_tok])
    g = torch.Generator().manual_seed(seed)
    cat = {L: torch.cat(v) for L, v in out.items()}
    pick = torch.randperm(next(iter(cat.values())).shape[0], generator=g)[:n]
    return {L: x[pick] for L, x in cat.items()}


def gate_states(model, tokenizer, layers: list[int], seed: int = 0, cues: bool = False) -> GateStates:
    opened, closed = gate_data(tokenizer, "fit", seed, cues)
    n_occ = len(occupation_prompts(tokenizer, "fit", seed))  # gate_data puts them first among the open class
    pos = last_token_states(model, tokenizer, opened, layers)
    neg = last_token_states(model, tokenizer, closed, layers)
    neutral = neutral_token_states(model, tokenizer, layers, NEUTRAL_TOKENS, seed)
    return GateStates(pos, {L: torch.cat([neg[L], neutral[L]]) for L in layers},
                      {L: x[:n_occ] for L, x in pos.items()}, len(opened), len(closed), len(neutral[layers[0]]))


def build_pack_tensors(v: torch.Tensor, w: torch.Tensor, b: float, recipe: Recipe) -> dict[str, torch.Tensor]:
    """v2 tensors: feature 0 = the eraser (``v`` at its erase layers, a zero row elsewhere: no edit there), feature
    1 = the gate (``w``, ``b`` at the read site; its decoder row is zero everywhere: it is read, never written)."""
    d = v.shape[0]
    t = {}
    for i, layer in enumerate(recipe.layers):
        erase = v if layer in recipe.erase_layers else torch.zeros(d)
        gate_w = w if i == 0 else torch.zeros(d)
        t[f"W_dec.{i}"] = torch.stack([erase, torch.zeros(d)])  # [2, d]
        t[f"W_enc.{i}"] = torch.stack([erase, gate_w], 1)  # [d, 2]
        t[f"b_enc.{i}"] = torch.tensor([0.0, b if i == 0 else 0.0])
    return t


def build_readout_pack(model, tokenizer, info: ModelInfo, *, out: Path, recipe: Recipe = Recipe(), seed: int = 0,
                       command: str = "", card_extra: str = "", states: GateStates | None = None,
                       cues: bool = False) -> tuple[FeaturePack, dict]:
    """Fit the gate on ``fit``, calibrate, write the pack at ``out``. Returns (pack, fit numbers). ``states``:
    precomputed :func:`gate_states` (a sweep shares them)."""
    v = readout_direction(model, tokenizer)
    L = recipe.gate_layer
    states = states or gate_states(model, tokenizer, [L], seed, cues)
    pos, neg = states.opened[L], states.closed[L]
    w, b = fit_logistic(pos, neg, l2=recipe.l2)  # class-balanced: open (1) vs closed (0)
    thr = float(torch.quantile(states.occupation[L] @ w + b, 1 - recipe.quantile))
    sp, sn = pos @ w + b, neg @ w + b
    ns = states.n_stated
    fit = {"n_open": states.n_open, "n_stated": ns, "n_neutral": states.n_neutral, "threshold": thr,
           "open_open": float((sp > thr).float().mean()), "stated_closed": float((sn[:ns] <= thr).float().mean()),
           "neutral_closed": float((sn[ns:] <= thr).float().mean()),
           "gate_max": float(torch.cat([sp, sn]).abs().quantile(0.99)),
           "eraser_max": float((torch.cat([pos, neg]) @ v).abs().quantile(0.99))}
    manifest = {
        "id": PACK_ID, "version": "2",
        "title": "Gender: conditional he/she readout eraser",
        "description": ("Suppress removes the he/she readout direction from the last layers, so occupation prompts "
                        "give he and she the same probability, only at tokens where the 'unstated' probe says a "
                        "pronoun is due for a person whose gender was not stated (names, titles, pronouns, "
                        "gendered nouns keep their pronoun; ordinary text is left alone)."),
        "model": info.model_dump(), "sites": [{"layer": L} for L in recipe.layers],
        "encoder": {"kind": "probe"},
        "condition": {"feature": GATE, "apply_when": "above", "threshold": thr},
        "features": [
            {"name": ERASER, "index": 0, "label": "he/she readout direction (conditional)",
             "description": "γ ⊙ (W_U[' he'] − W_U[' she']), unit; suppress = erase it where no gender is stated",
             "default_op": "suppress", "max_activation": fit["eraser_max"], "tags": ["bias", "gender"]},
            {"name": GATE, "index": 1, "label": "a pronoun is due for a person of unstated gender",
             "description": "logistic probe at the read site; the pack's condition (the eraser acts above it)",
             "default_op": "monitor", "max_activation": fit["gate_max"], "threshold": thr, "tags": ["gender"]},
        ],
        "provenance": {"source": "unembedding of the model + logistic gate on bias_data fit prompts",
                       "corpus": "steerlab/build/bias_data.py (fit split)", "command": command,
                       "date": dt.date.today().isoformat(), "license": BIAS_LICENSE},
    }
    pack = save_pack(out, manifest, build_pack_tensors(v, w, b, recipe), card=card(recipe, fit, command, card_extra))
    return pack, fit


def card(recipe: Recipe, fit: dict, command: str, extra: str) -> str:
    return f"""# Gender: conditional he/she readout eraser (`gender/gender`, gated by `gender/unstated`)

Suppress removes the he/she readout direction at the last layers, so he and she become equally likely, **only
where a pronoun is due for a person whose gender was not stated**: the pack's `condition` reads `gender/unstated`
(a probe) at its read site and lets the eraser act only at tokens whose reading is above the threshold. Default
op: suppress (`X-Steering: gender`).

## How it was built
- Command: `{command}`
- Recipe ({recipe.describe()}), chosen on the dev split (table below).
- Eraser: `v = γ ⊙ (W_U[' he'] − W_U[' she'])`, unit (`γ`: the final RMSNorm weight), as a probe feature with
  `W_dec = W_enc = v`: suppress removes the component along `v`, so `logit(he) = logit(she)` after the last layer.
- Gate: class-balanced logistic regression (L2 {recipe.l2}) on the residual at layer {recipe.gate_layer}: open =
  the last token of {fit['n_open']} unstated-gender prompts (occupation prompts, neutral twins of stated ones);
  closed = the last token of {fit['n_stated']} stated-gender prompts (gendered nouns, appositives, names, titles,
  kinship nouns, earlier pronouns, possessives, reflexives) and {fit['n_neutral']} ordinary tokens of neutral
  paragraphs; fit split only. Threshold {fit['threshold']:.4f}: the gate opens on {100 * recipe.quantile:g}% of
  fit occupation prompts. On the fit data it opens on {fit['open_open']:.1%} of the open class and stays closed on
  {fit['stated_closed']:.1%} of stated prompts and {fit['neutral_closed']:.1%} of neutral tokens.
- Data: {BIAS_LICENSE}.
{extra}"""


def dev_sweep(model, tokenizer, info: ModelInfo, recipes: list[Recipe], out: Path, seed: int = 0,
              cues: bool = False) -> list[dict]:
    """Build each recipe's pack (fit split) and measure it on the dev split: the numbers the card's table shows."""

    rows, baseline = [], {}
    states = gate_states(model, tokenizer, sorted({r.gate_layer for r in recipes}), seed, cues)
    stated = [p for p in stated_prompts(tokenizer, "dev", seed) + pronoun_cue_prompts("dev", seed) if p.target]
    for r in recipes:
        pack, _ = build_readout_pack(model, tokenizer, info, out=out / "sweep", recipe=r, seed=seed, states=states)
        rep = evaluate_bias(model, tokenizer, pack, split="dev", seed=seed, n_neutral=16, baseline=baseline)
        with suppressing(model, pack) as (rt, row):
            cue = [agreement(pronoun_logprobs(model, tokenizer, stated, runtime=rt, row=x), [p.target for p in stated])
                   .float().mean().item() for x in (0, row)]
        rows.append({"recipe": r.describe(), "skew_change": rep.skew_change, "agreement_before": rep.agreement_before,
                     "agreement_after": rep.agreement_after, "cue_agreement_before": cue[0],
                     "cue_agreement_after": cue[1], "ppl_ratio": rep.ppl_ratio})
        print(f"dev: {r.describe()}: skew {100 * rep.skew_change:+.1f}%, agreement {rep.agreement_before:.1%} → "
              f"{rep.agreement_after:.1%}, names/titles/pronoun cues {cue[0]:.1%} → {cue[1]:.1%}, "
              f"perplexity ×{rep.ppl_ratio:.4f}", flush=True)
    return rows


def choose(recipes: list[Recipe], rows: list[dict], ppl: float = 1.05, agreement_drop: float = 0.05) -> Recipe:
    """The recipe with the largest dev skew drop within the budgets (perplexity ×``ppl``, agreement within
    ``agreement_drop``); if none fits, the one with the best agreement."""
    ok = [(r, x) for r, x in zip(recipes, rows, strict=True)
          if x["ppl_ratio"] <= ppl and x["agreement_after"] >= x["agreement_before"] - agreement_drop
          and x["cue_agreement_after"] >= x["cue_agreement_before"] - agreement_drop]
    if ok:
        return min(ok, key=lambda rx: (rx[1]["skew_change"], rx[1]["ppl_ratio"]))[0]
    return max(zip(recipes, rows, strict=True), key=lambda rx: rx[1]["agreement_after"])[0]


def sweep_table(rows: list[dict], chosen: Recipe) -> str:
    head = ("| recipe | skew change | agreement (gendered nouns) | agreement (names, titles, pronoun cues) | "
            "perplexity |\n|---|---|---|---|---|\n")
    return head + "\n".join(
        f"| {'**' + x['recipe'] + '** (chosen)' if x['recipe'] == chosen.describe() else x['recipe']} | "
        f"{100 * x['skew_change']:+.1f}% | {x['agreement_before']:.1%} → {x['agreement_after']:.1%} | "
        f"{x['cue_agreement_before']:.1%} → {x['cue_agreement_after']:.1%} | ×{x['ppl_ratio']:.4f} |" for x in rows)
