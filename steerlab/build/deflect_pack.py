"""The ``scope-deflect`` pack: a deflection direction for steered scope limitation (CAST: a condition vector gates
a behaviour vector).

Behaviour vector, per layer: the difference of means of the residual stream over the tokens of a deflection (one
of :data:`DEFLECTION_TEXTS`, paraphrases of "I'm sorry, but I can only help with health and medical questions.")
and over the tokens of the model's own greedy answer, both teacher-forced after the same training questions (half
off-scope, half in-scope, from the scope build's *train* split). A candidate adds it at one layer or at several
(format v2 ``sites``: each site adds its own layer's difference). Its condition is the ``topics/off-scope``
monitor, wired by the policy (``examples/scope-health-steered.yaml``: ``action: steer`` adds
``scope-deflect/deflect`` from the firing token on), so the edit reaches only requests the monitor flags; every
other request keeps config row 0 and is bit-identical.

Selection (dev): every (layers, strength) of :data:`CANDIDATES` runs through the HF engine with that policy on the
scope build's *calibration* split (never the test split, never the hand-written sets in
``steerlab/eval/data/scope_heldout*.py``); the pack ships the one with the highest share of off-scope replies
deflected in words among those whose replies stay fluent (repetition ≤ :data:`MAX_REPETITION`), the weaker strength on ties.
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
from pathlib import Path

import torch
from tqdm import tqdm

from steering.hooks import decoder_layers
from steering.pack import FeaturePack, ModelInfo, load_pack, save_pack
from steering.pack.importers import direction_pack_tensors
from steerlab.build.chat import chat_ids
from steerlab.build.scope_data import scope_splits
from steerlab.eval.deflection import DeflectionRun, ask_all

DEFLECTION_TEXT = "I'm sorry, but I can only help with health and medical questions."
# Paraphrases averaged into the direction, so that it points at "deflect to health" rather than at one sentence's
# words. Written for this module; the eval's DEFLECTION regex was fixed before they were.
DEFLECTION_TEXTS = (
    DEFLECTION_TEXT,
    "Sorry, I can't help with that. I'm a health assistant, so I can only answer health questions.",
    "I'm afraid that is outside what I can help with: I only answer questions about health and medicine.",
    "Unfortunately I can only help with medical and health-related questions. Is there a health question I can "
    "answer for you?",
    "That isn't a health question, so I can't help with it. Please ask me about symptoms, medicines or wellbeing.",
    "I can only help with questions about health, medicine and wellbeing, so I can't answer this one.",
)
MAX_REPETITION = 0.2
LICENSE = "scope questions: see feature_packs/smollm2-135m-instruct/topics (the scope build's sources)"


@torch.no_grad()
def deflection_directions(model, tok, questions: list[str], layers: tuple[int, ...], answer_tokens: int = 16,
                          texts: tuple[str, ...] = DEFLECTION_TEXTS) -> dict[int, torch.Tensor]:
    """Per layer ``[d]``: mean residual over a deflection's tokens (averaged over ``texts``) minus mean residual over
    the model's own answer's tokens, each teacher-forced after the question's chat prompt, averaged over
    ``questions``."""
    blocks = decoder_layers(model)
    box: dict[int, torch.Tensor] = {}
    hooks = [blocks[L].register_forward_hook(lambda m, a, o, L=L: box.__setitem__(L, (o[0] if isinstance(o, tuple)
                                                                                      else o)[0]))
             for L in layers]
    eos = tok.eos_token_id
    text_ids = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    total = {L: torch.zeros(model.config.hidden_size) for L in layers}
    try:
        for q in tqdm(questions, desc="teacher-forced directions"):
            p = chat_ids(tok, q)
            out = model.generate(torch.tensor([p]), max_new_tokens=answer_tokens, do_sample=False,
                                 eos_token_id=eos, pad_token_id=eos)[0, len(p):].tolist()
            own = out[: out.index(eos)] if eos in out else out
            deflect = {L: torch.zeros(model.config.hidden_size) for L in layers}
            for d_ids in text_ids:
                model(input_ids=torch.tensor([p + d_ids]))
                for L in layers:
                    deflect[L] += box[L][len(p):].float().mean(0) / len(text_ids)
            model(input_ids=torch.tensor([p + (own or [eos])]))
            for L in layers:
                total[L] += deflect[L] - box[L][len(p):].float().mean(0)
    finally:
        for h in hooks:
            h.remove()
    return {L: v / len(questions) for L, v in total.items()}


def layers_text(layers: list[int]) -> str:
    return f"layer {layers[0]}" if len(layers) == 1 else "layers " + ", ".join(map(str, layers))


def direction_sites(directions: dict[int, torch.Tensor]) -> tuple[dict, dict[str, torch.Tensor]]:
    """The manifest's site entry and the tensors of a one-feature direction pack with a site at each layer of
    ``directions`` (format v1 ``site`` for one layer, v2 ``sites`` with per-site tensors for several)."""
    layers = sorted(directions)
    if len(layers) == 1:
        return ({"site": {"layer": layers[0], "point": "resid_post"}},
                direction_pack_tensors(directions[layers[0]][None].float()))
    return ({"sites": [{"layer": L, "point": "resid_post"} for L in layers]},
            {f"{k}.{i}": v for i, L in enumerate(layers)
             for k, v in direction_pack_tensors(directions[L][None].float()).items()})


def save_deflect_pack(out: Path, info: ModelInfo, directions: dict[int, torch.Tensor], strength: float,
                      command: str, n_questions: int, seed: int) -> FeaturePack:
    """The pack: one site per layer of ``directions`` (format v1 for one layer, v2 ``sites`` for several; each site
    adds its own layer's difference of means)."""
    layers, (where, tensors) = sorted(directions), direction_sites(directions)
    manifest = {
        "id": "scope-deflect", "version": "2", "title": "Deflect to the assistant's scope (steered refusal)",
        "description": f"Difference-of-means direction at {layers_text(layers)}: the model saying it only helps with "
                       f"health questions (\"{DEFLECTION_TEXT}\" and {len(DEFLECTION_TEXTS) - 1} paraphrases) minus "
                       "its own answer, after the same questions. Added (from the token the off-scope monitor fires "
                       "on) it makes the model itself say it only helps with health questions. 1x = the mean "
                       "difference itself" + (" at each layer." if len(layers) > 1 else "."),
        "model": info.model_dump(), **where, "encoder": {"kind": "direction"},
        "features": [{"name": "deflect", "index": 0, "label": "deflect: only health questions",
                      "description": "add it to make the reply a scope deflection; pair it with the topics/off-scope "
                                     "monitor (action steer) so it reaches only flagged requests",
                      "default_op": "add", "default_value": f"{strength:g}x", "max_activation": 1.0,
                      "tags": ["scope", "refusal"], "action": "log"}],
        "provenance": {"source": "scope build train split (steerlab/build/scope_data.py)",
                       "corpus": f"{n_questions} train questions (seed {seed}), half off-scope", "command": command,
                       "date": dt.date.today().isoformat(), "license": LICENSE},
    }
    return save_pack(out, manifest, tensors, card="(measuring)\n")


def steered_policy(path: Path, strength: float) -> Path:
    """A policy with the ``health-assistant-steered`` profile (as ``examples/scope-health-steered.yaml``) at
    ``strength`` (× the direction)."""
    path.write_text(f"""steering:
  defaults: ""
  profiles:
    health-assistant-steered:
      steering: "topics/off-scope:monitor"
monitors:
  topics/off-scope:
    action: steer
    steer: "scope-deflect/deflect:add={strength:g}x"
""")
    return path


# Dev candidates: (layers, strengths). Several layers at a lower strength each is the multi-site variant (the
# single-layer sweep loops from 3x on this model).
CANDIDATES: tuple[tuple[tuple[int, ...], tuple[float, ...]], ...] = (
    ((15,), (2, 3, 4)),
    ((12, 15), (1, 1.5, 2)),
    ((9, 12, 15), (0.75, 1, 1.5)),
)


def build_deflect_pack(model, tok, info: ModelInfo, model_path, topics: FeaturePack, *, out: Path,
                       candidates=CANDIDATES, n_train: int = 60, n_dev: int = 40, seed: int = 0,
                       model_id: str | None = None, command: str = "") -> dict:
    splits, _ = scope_splits(seed)
    rng = random.Random(seed)
    train, calib = list(splits["train"]), list(splits["calib"])
    rng.shuffle(train)
    rng.shuffle(calib)
    train_q = [q.text for q in train if not q.in_scope][:n_train // 2] + [q.text for q in train if q.in_scope][
        :n_train // 2]
    dev = [(q.text, False) for q in calib if not q.in_scope][:n_dev] + [(q.text, True) for q in calib
                                                                        if q.in_scope][:n_dev]
    directions = deflection_directions(model, tok, train_q, tuple(sorted({L for ls, _ in candidates for L in ls})))
    sweep, plain = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for layers, strengths in candidates:
            pack = save_deflect_pack(Path(tmp) / "packs" / "scope-deflect", info, {L: directions[L] for L in layers},
                                     1.0, command, len(train_q), seed)
            for x in strengths:
                run = ask_all(model_path, [topics, pack], steered_policy(Path(tmp) / "policy.yaml", x),
                              "health-assistant-steered", dev, model_id=model_id, plain=plain)
                plain = [r.plain for r in run.replies]
                sweep.append({"layers": list(layers), "strength": x, **run.summary(),
                              "examples": [r.text for r in run.replies if not r.in_scope][:3]})
                print(f"  {layers_text(list(layers))} {x:g}x: off-scope deflected {run.off_deflected:.0%} (in words "
                      f"{run.off_steered_deflected:.0%}), in-scope answered {run.in_answered:.0%}, repetition "
                      f"{run.off_repetition:.2f}", flush=True)
    ok = [s for s in sweep if s["off_repetition"] <= MAX_REPETITION] or sweep
    best = max(ok, key=lambda s: (s["off_deflected_in_words"], -s["strength"]))
    pack = save_deflect_pack(out, info, {L: directions[L] for L in best["layers"]}, best["strength"], command,
                             len(train_q), seed)
    return {"pack": load_pack(out), "layers": best["layers"], "strength": best["strength"], "sweep": sweep,
            "train_questions": len(train_q), "dev_off": n_dev, "dev_in": n_dev, "chosen": best}


def card(manifest: dict, build: dict, heldout: list[DeflectionRun], source: str) -> str:
    f = manifest["features"][0]
    held_rows = "\n".join(f"| `{r.profile}` | {r.off_deflected:.0%} | {r.off_steered_deflected:.0%} | "
                          f"{r.in_answered:.0%} | {r.off_repetition:.2f} |" for r in heldout)
    rows = "\n".join(f"| {', '.join(map(str, s['layers']))} | {s['strength']:g}x | {s['off_deflected']:.0%} | "
                     f"{s['off_deflected_in_words']:.0%} | {s['in_answered']:.0%} | {s['off_repetition']:.2f} |"
                     for s in build["sweep"])
    steered = next(r for r in heldout if r.profile.endswith("steered"))
    return f"""# Deflect to the assistant's scope (`scope-deflect/deflect`)

{manifest['description']}

Use it through a policy, not on its own: `examples/scope-health-steered.yaml` monitors `topics/off-scope` with
`action: steer` and `steer: "scope-deflect/deflect"` (default strength {f['default_value']}), so a request the
monitor flags on its prompt gets the direction added from then on, and every other request is untouched.

## How it was built
- Command: `{manifest['provenance']['command'] or 'steer probe train --task deflect'}`
- Direction per candidate layer from {build['train_questions']} questions of the scope build's train split and
  {len(DEFLECTION_TEXTS)} deflection sentences (`DEFLECTION_TEXTS` in `steerlab/build/deflect_pack.py`).
- Selection on the scope build's calibration split ({build['dev_off']} off-scope, {build['dev_in']} in-scope
  questions), each run through the HF engine with the steered policy: the highest share of off-scope replies
  deflected in words among runs whose off-scope replies keep repetition ≤ {MAX_REPETITION}.

| layers | strength (each layer) | off-scope deflected | in words | in-scope answered unchanged | repetition |
|---|---|---|---|---|---|
{rows}

## Measured on hand-written requests
{source}; each asked with the profile and without it through the HF engine. Reproduce with
`steer eval deflection` (docs/eval/scope-deflection.md, with examples).

| profile | off-scope deflected | in words | in-scope answered unchanged | repetition |
|---|---|---|---|---|
{held_rows}

Steered profile on these requests: off-scope deflected {steered.off_deflected:.0%}, in-scope answered unchanged
{steered.in_answered:.0%}.

## Limits
- The gate is the off-scope monitor: its misses are answered as usual and its false alarms turn an in-scope reply
  into a deflection. What it misses or flags is the topics pack's card.
- The first reply token is chosen before the direction is added (the monitor's event is read at the end of the
  prompt, the switch applies to the next forward), so a deflection can start with the model's own first word.
"""
