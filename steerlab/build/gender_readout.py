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
A third feature, ``stated`` (:mod:`steerlab.build.gender_latch`), reads the tokens of gendered words at an earlier
layer; the condition's ``latch`` closes the gate from the first token it fires on to the end of the request, so a
gender stated anywhere before the pronoun keeps its pronoun even where the last-token gate cannot tell.

Settings (gate layer, erase layers, threshold quantile, latch layer) are chosen by :func:`dev_sweep` on the ``dev``
split and the hand-written dev sets A, B, C and D (:data:`steerlab.eval.bias.DEV_SETS`: their results were seen
while earlier recipes were built); the sweep's latches read the fit split's words only, and the chosen recipe's
latch is then refit on every listed word (``Recipe.latch_words``, decision 72). ``steer eval bias`` reports on
``test`` and on the hand-written held-out set (:data:`steerlab.eval.bias.HELDOUT_SETS`), which no builder or sweep
reads.
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
    chat_kin_prompts,
    chat_stated_prompts,
    neutral_texts,
    occupation_prompts,
    pronoun_cue_prompts,
    stated_prompts,
)
from steerlab.build.gender_cues import chat_cue_prompts, cue_prompts
from steerlab.build.gender_latch import latch_states, max_score
from steerlab.eval.bias import (
    DEV_SETS,
    agreement,
    evaluate_bias,
    evaluate_heldout,
    forward_batches,
    pronoun_ids,
    pronoun_logprobs,
    suppressing,
)
from steerlab.metrics import fit_logistic

PACK_ID = "gender"
ERASER, GATE, LATCH = "gender", "unstated", "stated"
NEUTRAL_TOKENS = 4000  # ordinary-text positions in the gate's negative class


@dataclass(frozen=True)
class Recipe:
    gate_layer: int = 27
    erase_layers: tuple[int, ...] = (27, 28, 29)
    quantile: float = 0.99  # share of fit occupation prompts the gate opens on (sets the threshold)
    l2: float = 1e-2
    latch_layer: int | None = None  # where the 'stated' latch is read (None: no latch), below the gate
    latch_quantile: float = 0.99  # share of unstated fit prompts the latch stays open on
    chat: bool = False  # the latch also fits on chat prompts that state the gender in the user turn
    latch_words: str = "fit"  # the latch's cue words: the fit split's ("fit") or every listed word ("all")

    @property
    def layers(self) -> list[int]:
        """Pack sites, lowest first: the latch's layer (if any), the gate's, then the other erase layers."""
        return sorted({self.gate_layer, *self.erase_layers} | ({self.latch_layer} if self.latch_layer else set()))

    def describe(self) -> str:
        latch = f", latch at {self.latch_layer} (p{100 * self.latch_quantile:g})" if self.latch_layer else ", no latch"
        return (f"gate at layer {self.gate_layer}, erase at {', '.join(map(str, self.erase_layers))}, "
                f"threshold = p{100 * self.quantile:g} of fit occupation prompts{latch}"
                f"{', latch fit on chat turns too' if self.chat and self.latch_layer else ''}"
                f"{', latch fit on every listed word' if self.latch_words == 'all' and self.latch_layer else ''}")


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


def gate_data(tokenizer, split: str, seed: int = 0, cues: bool = False, chat: bool = False,
              all_words: bool = False) -> tuple[list[BiasPrompt], list[BiasPrompt]]:
    """(open, closed) prompts of a split for the gate: unstated-gender pronoun slots vs stated-gender ones (on
    ``fit``, with ``cues``, also the word-list cues of :mod:`steerlab.build.gender_cues`; with ``chat``, also those
    cues inside a chat turn; with ``all_words``, those cues draw on the dev and test splits' words too)."""
    stated = stated_prompts(tokenizer, split, seed) + pronoun_cue_prompts(split, seed)
    if cues and split == "fit":
        stated += cue_prompts(seed, all_words=all_words)
    if chat and split == "fit":
        stated += chat_cue_prompts(tokenizer, seed, all_words=all_words)
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


def build_pack_tensors(v: torch.Tensor, w: torch.Tensor, b: float, recipe: Recipe,
                       latch: tuple[torch.Tensor, float] | None = None) -> dict[str, torch.Tensor]:
    """v2 tensors: feature 0 = the eraser (``v`` at its erase layers, a zero row elsewhere: no edit there), feature
    1 = the gate (``w``, ``b`` at the gate's layer), feature 2 (with a latch) = the latch probe at its layer; the
    decoder rows of 1 and 2 are zero everywhere: they are read, never written."""
    d, n = v.shape[0], 2 + (latch is not None)
    t = {}
    for i, layer in enumerate(recipe.layers):
        erase = v if layer in recipe.erase_layers else torch.zeros(d)
        enc, bias = [erase, w if layer == recipe.gate_layer else torch.zeros(d)], [0.0, b if layer == recipe.gate_layer
                                                                                   else 0.0]
        if latch is not None:
            enc.append(latch[0] if layer == recipe.latch_layer else torch.zeros(d))
            bias.append(latch[1] if layer == recipe.latch_layer else 0.0)
        t[f"W_dec.{i}"] = torch.stack([erase] + [torch.zeros(d)] * (n - 1))  # [n, d]
        t[f"W_enc.{i}"] = torch.stack(enc, 1)  # [d, n]
        t[f"b_enc.{i}"] = torch.tensor(bias)
    return t


def fit_latch(model, tokenizer, recipe: Recipe, seed: int = 0, cache: dict | None = None) -> tuple[torch.Tensor, float,
                                                                                                  float, dict]:
    """The latch probe at ``recipe.latch_layer``: (w, b, threshold, fit numbers). ``cache`` shares the token states
    between the recipes of a sweep."""
    L, key = recipe.latch_layer, (recipe.latch_layer, recipe.chat, recipe.latch_words)
    cache = cache if cache is not None else {}
    if key not in cache:  # the word-list cues: the latch reads words
        every = recipe.latch_words == "all"
        opened, closed = gate_data(tokenizer, "fit", seed, cues=True, chat=recipe.chat, all_words=every)
        cache[key] = latch_states(model, tokenizer, L, [p.text for p in opened], [p.text for p in closed], seed,
                                  all_words=every)
    ls = cache[key]
    w, b = fit_logistic(ls.cue, ls.other, l2=recipe.l2)
    unstated = torch.tensor([max_score(h, w, b) for h in ls.unstated])
    thr = float(torch.quantile(unstated, recipe.latch_quantile))
    return w, b, thr, {"n_cue": len(ls.cue), "n_other": len(ls.other), "n_unstated": len(unstated),
                       "latch_threshold": thr, "cue_fired": float(((ls.cue @ w + b) > thr).float().mean()),
                       "latch_max": float(torch.cat([ls.cue @ w + b, ls.other @ w + b]).abs().quantile(0.99))}


def build_readout_pack(model, tokenizer, info: ModelInfo, *, out: Path, recipe: Recipe = Recipe(), seed: int = 0,
                       command: str = "", card_extra: str = "", states: GateStates | None = None,
                       cues: bool = False, latches: dict | None = None) -> tuple[FeaturePack, dict]:
    """Fit the gate (and latch) on ``fit``, calibrate, write the pack at ``out``. Returns (pack, fit numbers).
    ``states``, ``latches``: precomputed :func:`gate_states` and latch token states (a sweep shares them)."""
    v = readout_direction(model, tokenizer)
    L = recipe.gate_layer
    states = states or gate_states(model, tokenizer, [L], seed, cues)
    latch = fit_latch(model, tokenizer, recipe, seed, latches) if recipe.latch_layer is not None else None
    pos, neg = states.opened[L], states.closed[L]
    w, b = fit_logistic(pos, neg, l2=recipe.l2)  # class-balanced: open (1) vs closed (0)
    thr = float(torch.quantile(states.occupation[L] @ w + b, 1 - recipe.quantile))
    sp, sn = pos @ w + b, neg @ w + b
    ns = states.n_stated
    fit = {"n_open": states.n_open, "n_stated": ns, "n_neutral": states.n_neutral, "threshold": thr,
           "open_open": float((sp > thr).float().mean()), "stated_closed": float((sn[:ns] <= thr).float().mean()),
           "neutral_closed": float((sn[ns:] <= thr).float().mean()),
           "gate_max": float(torch.cat([sp, sn]).abs().quantile(0.99)),
           "eraser_max": float((torch.cat([pos, neg]) @ v).abs().quantile(0.99)), **(latch[3] if latch else {})}
    sites = recipe.layers
    condition = {"feature": GATE, "apply_when": "above", "threshold": thr, "site": sites.index(L)}
    if latch is not None:
        condition["latch"] = {"feature": LATCH, "threshold": latch[2], "site": sites.index(recipe.latch_layer)}
    manifest = {
        "id": PACK_ID, "version": ("4" if recipe.latch_words == "all" else "3") if latch else "2",
        "title": "Gender: conditional he/she readout eraser",
        "description": ("Suppress removes the he/she readout direction from the last layers, so occupation prompts "
                        "give he and she the same probability, only at tokens where the 'unstated' probe says a "
                        "pronoun is due for a person whose gender was not stated (names, titles, pronouns, "
                        "gendered nouns keep their pronoun; ordinary text is left alone)"
                        + ("; once a token of the request states a gender (the 'stated' latch), it stays off for "
                           "the rest of the request." if latch else ".")),
        "model": info.model_dump(), "sites": [{"layer": x} for x in sites],
        "encoder": {"kind": "probe"},
        "condition": condition,
        "features": [
            {"name": ERASER, "index": 0, "label": "he/she readout direction (conditional)",
             "description": "γ ⊙ (W_U[' he'] − W_U[' she']), unit; suppress = erase it where no gender is stated",
             "default_op": "suppress", "max_activation": fit["eraser_max"], "tags": ["bias", "gender"]},
            {"name": GATE, "index": 1, "label": "a pronoun is due for a person of unstated gender",
             "description": "logistic probe at the read site; the pack's condition (the eraser acts above it)",
             "default_op": "monitor", "max_activation": fit["gate_max"], "threshold": thr, "tags": ["gender"]},
            *([{"name": LATCH, "index": 2, "label": "this token states a person's gender",
                "description": "logistic probe on the tokens of gendered words; the condition's latch (from the first "
                               "token above it, the eraser is off for the rest of the request)",
                "default_op": "monitor", "max_activation": fit["latch_max"], "threshold": latch[2],
                "tags": ["gender"]}] if latch else []),
        ],
        "provenance": {"source": "unembedding of the model + logistic gate on bias_data fit prompts",
                       "corpus": "steerlab/build/bias_data.py (fit split)", "command": command,
                       "date": dt.date.today().isoformat(), "license": BIAS_LICENSE},
    }
    tensors = build_pack_tensors(v, w, b, recipe, latch[:2] if latch else None)
    pack = save_pack(out, manifest, tensors, card=card(recipe, fit, command, card_extra))
    return pack, fit


def card(recipe: Recipe, fit: dict, command: str, extra: str) -> str:
    latched = (" and, once any token of the request has read above its threshold on `gender/stated` (a probe of "
               "gendered words: names, titles, pronouns, gendered nouns), not at all for the rest of the request"
               if recipe.latch_layer is not None else "")
    return f"""# Gender: conditional he/she readout eraser (`gender/gender`, gated by `gender/unstated`)

Suppress removes the he/she readout direction at the last layers, so he and she become equally likely, **only
where a pronoun is due for a person whose gender was not stated**: the pack's `condition` reads `gender/unstated`
(a probe) and lets the eraser act only at tokens whose reading is above the threshold{latched}. Default op:
suppress (`X-Steering: gender`).

## How it was built
- Command: `{command}`
- Recipe ({recipe.describe()}), chosen on the dev split and the hand-written dev sets A, B, C and D (table below).
- Eraser: `v = γ ⊙ (W_U[' he'] − W_U[' she'])`, unit (`γ`: the final RMSNorm weight), as a probe feature with
  `W_dec = W_enc = v`: suppress removes the component along `v`, so `logit(he) = logit(she)` after the last layer.
- Gate: class-balanced logistic regression (L2 {recipe.l2}) on the residual at layer {recipe.gate_layer}: open =
  the last token of {fit['n_open']} unstated-gender prompts (occupation prompts, neutral twins of stated ones);
  closed = the last token of {fit['n_stated']} stated-gender prompts (gendered nouns, appositives, names, titles,
  kinship nouns, earlier pronouns, possessives, reflexives) and {fit['n_neutral']} ordinary tokens of neutral
  paragraphs; fit split only. Threshold {fit['threshold']:.4f}: the gate opens on {100 * recipe.quantile:g}% of
  fit occupation prompts. On the fit data it opens on {fit['open_open']:.1%} of the open class and stays closed on
  {fit['stated_closed']:.1%} of stated prompts and {fit['neutral_closed']:.1%} of neutral tokens.
{latch_card(recipe, fit)}- Data: {BIAS_LICENSE}.
{extra}"""


def latch_card(recipe: Recipe, fit: dict) -> str:
    if recipe.latch_layer is None:
        return "- No latch: the gate alone decides, token by token.\n"
    chat = ("; the fit prompts include chat prompts whose user turn states the gender (the whole chat template, "
            "system prompt included, is read)" if recipe.chat else "")
    words = ("every listed census name, title, pronoun and person noun, those bias_data keeps for its dev and test "
             "splits included. The dev sweep below measured latches fitted on the fit split's words only; once the "
             "recipe was chosen, the shipped latch was refit on every listed word (decision 72), so the generated "
             "test split's agreement is no longer measured on words the latch never saw; the hand-written held-out "
             "set is the independent measure" if recipe.latch_words == "all" else
             "fit census names, titles, pronouns, Bolukbasi person nouns")
    return f"""- Latch (`gender/stated`, the condition's `latch`): logistic regression (L2 {recipe.l2}) on the residual at
  layer {recipe.latch_layer}, token by token: {fit['n_cue']} tokens of gendered words ({words}:
  `steerlab/build/gender_latch.py`) against {fit['n_other']} tokens of fit prompts before any such word and of
  neutral paragraphs{chat}. Threshold {fit['latch_threshold']:.4f}: the maximum over a
  request's tokens stays below it on {100 * recipe.latch_quantile:g}% of {fit['n_unstated']} unstated fit prompts;
  {fit['cue_fired']:.1%} of fit cue tokens are above it. From the first token above it, the eraser is off for the
  rest of the request (later forward passes included).
"""


def dev_sweep(model, tokenizer, info: ModelInfo, recipes: list[Recipe], out: Path, seed: int = 0,
              cues: bool = False) -> list[dict]:
    """Build each recipe's pack (fit split) and measure it on the dev split and on the hand-written dev sets
    (:data:`DEV_SETS`): the numbers the card's table shows."""

    rows, baseline, latches = [], {}, {}
    states = gate_states(model, tokenizer, sorted({r.gate_layer for r in recipes}), seed, cues)
    stated = [p for p in stated_prompts(tokenizer, "dev", seed) + pronoun_cue_prompts("dev", seed) if p.target]
    chat = [p for p in chat_stated_prompts(tokenizer, "dev", seed) if p.target]
    kin = [p for p in chat_kin_prompts(tokenizer, "dev", seed) if p.target]
    for r in recipes:
        pack, _ = build_readout_pack(model, tokenizer, info, out=out / "sweep", recipe=r, seed=seed, states=states,
                                     latches=latches)
        rep = evaluate_bias(model, tokenizer, pack, split="dev", seed=seed, n_neutral=16, baseline=baseline)
        with suppressing(model, pack) as (rt, row):
            cue, in_chat, in_kin = ([agreement(pronoun_logprobs(model, tokenizer, ps, runtime=rt, row=x),
                                               [p.target for p in ps]).float().mean().item() for x in (0, row)]
                                    for ps in (stated, chat, kin))
        hand = [evaluate_heldout(model, tokenizer, pack, name=n, reply_tokens=0) for n in DEV_SETS]
        n_exp = sum(h.n_explicit_prompts for h in hand)
        rows.append({"recipe": r.describe(), "skew_change": rep.skew_change, "agreement_before": rep.agreement_before,
                     "agreement_after": rep.agreement_after, "cue_agreement_before": cue[0],
                     "cue_agreement_after": cue[1], "chat_agreement_before": in_chat[0],
                     "chat_agreement_after": in_chat[1], "kin_agreement_before": in_kin[0],
                     "kin_agreement_after": in_kin[1], "ppl_ratio": rep.ppl_ratio,
                     "hand_skew_change": sum(h.skew_change for h in hand) / len(hand),
                     "hand_agreement_before": sum(h.agreement_before * h.n_explicit_prompts for h in hand) / n_exp,
                     "hand_agreement_after": sum(h.agreement_after * h.n_explicit_prompts for h in hand) / n_exp})
        x = rows[-1]
        print(f"dev: {r.describe()}: skew {100 * rep.skew_change:+.1f}%, agreement {rep.agreement_before:.1%} → "
              f"{rep.agreement_after:.1%}, names/titles/pronoun cues {cue[0]:.1%} → {cue[1]:.1%}, in a chat turn "
              f"{in_chat[0]:.1%} → {in_chat[1]:.1%}, kinship noun in a long chat turn {in_kin[0]:.1%} → "
              f"{in_kin[1]:.1%}, "
              f"perplexity ×{rep.ppl_ratio:.4f}; hand-written dev sets: skew {100 * x['hand_skew_change']:+.1f}%, "
              f"agreement {x['hand_agreement_before']:.1%} → {x['hand_agreement_after']:.1%}", flush=True)
    return rows


def choose(recipes: list[Recipe], rows: list[dict], ppl: float = 1.05, agreement_drop: float = 0.05) -> Recipe:
    """The recipe with the largest dev skew drop (dev split and hand-written dev sets, averaged) within the budgets
    (perplexity ×``ppl``; each agreement within ``agreement_drop``); if none fits, the one with the best
    agreement."""
    ok = [(r, x) for r, x in zip(recipes, rows, strict=True)
          if x["ppl_ratio"] <= ppl and all(x[f"{k}_after"] >= x[f"{k}_before"] - agreement_drop
                                           for k in ("agreement", "cue_agreement", "chat_agreement",
                                                     "kin_agreement", "hand_agreement"))]
    if ok:
        return min(ok, key=lambda rx: (rx[1]["skew_change"] + rx[1]["hand_skew_change"], rx[1]["ppl_ratio"]))[0]
    return max(zip(recipes, rows, strict=True), key=lambda rx: rx[1]["agreement_after"])[0]


def sweep_table(rows: list[dict], chosen: Recipe) -> str:
    head = ("| recipe | skew change | agreement (gendered nouns) | agreement (names, titles, pronoun cues) | "
            "agreement (cue in a chat turn) | agreement (kinship noun early in a long chat turn) | perplexity | "
            "hand-written dev sets A–D: skew change | A–D: agreement |\n|---|---|---|---|---|---|---|---|---|\n")
    return head + "\n".join(
        f"| {'**' + x['recipe'] + '** (chosen)' if x['recipe'] == chosen.describe() else x['recipe']} | "
        f"{100 * x['skew_change']:+.1f}% | {x['agreement_before']:.1%} → {x['agreement_after']:.1%} | "
        f"{x['cue_agreement_before']:.1%} → {x['cue_agreement_after']:.1%} | "
        f"{x['chat_agreement_before']:.1%} → {x['chat_agreement_after']:.1%} | "
        f"{x['kin_agreement_before']:.1%} → {x['kin_agreement_after']:.1%} | ×{x['ppl_ratio']:.4f} | "
        f"{100 * x['hand_skew_change']:+.1f}% | {x['hand_agreement_before']:.1%} → {x['hand_agreement_after']:.1%} |"
        for x in rows)
