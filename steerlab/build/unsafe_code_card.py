"""The ``unsafe-code`` pack card, written from the build's result (:mod:`steerlab.build.unsafe_code_pairs`) and the
held-out evaluation (:mod:`steerlab.eval.unsafe_code`): every number in it comes from those two."""

from __future__ import annotations


def card(manifest: dict, build: dict, heldout: dict, heldout_table: str, set_description: str) -> str:
    """The pack card: how it was built, dev numbers (cross-validation), held-out numbers (``heldout``, its table and
    its description from :mod:`steerlab.eval.unsafe_code`, passed in so that build never imports eval), limits."""
    f = manifest["features"][0]
    names = list(build["handwritten_pairs"])
    cv_rows = "\n".join(
        f"| {c['layer']}{' (**shipped**)' if c['layer'] == build['layer'] else ''} | **{c['auroc']:.3f}** | "
        + " | ".join(f"{c['folds'][n]['auroc']:.3f}" for n in names)
        + f" | {c['pair_acc']:.3f} | {c['threshold']:.3f} |" for c in build["cv"])
    c = heldout["contexts"]
    a = c["all"]
    goals = [("AUROC ≥ 0.95 raw", c["raw"]["probe_auroc"] >= 0.95), ("AUROC ≥ 0.95 in chat",
             c["chat"]["probe_auroc"] >= 0.95), ("pair accuracy ≥ 0.9", a["probe_pair_acc"] >= 0.9),
             ("precision ≥ 0.9 at the threshold", a["probe_precision"] >= 0.9),
             ("recall ≥ 0.8 at the threshold", a["probe_recall"] >= 0.8)]
    verdict = "; ".join(f"{g}: {'met' if ok else '**not met**'}" for g, ok in goals)
    hand = ", ".join(f"{name} ({n} pairs)" for name, n in build["handwritten_pairs"].items())
    total = sum(build["handwritten_pairs"].values())
    return f"""# Unsafe Python code (`unsafe-code/python`) — monitor

{manifest['description']}

## How it was built
- Command: `{manifest['provenance']['command'] or 'steer probe train --task unsafe-code'}`
- Data: hand-written matched insecure/fixed pairs, each raw, in a chat message, in markdown and cut off after the
  construct: {hand}. The construct of an insecure twin is where it differs from its fix. Ordinary code:
  {build['ordinary_train']} windows of the Python standard library.
- Token labels: the differing region of an insecure twin is positive; the text both twins share, every token of a
  fixed twin and ordinary code are negative (tokens after the construct are left out). Candidates: a layer, or
  layers read as one probe (their residuals side by side: `Σ_l h_l·w_l + b`). Per candidate: a class-balanced L2
  logistic token probe, then trained on the max over each program's tokens (multiple-instance: the best construct
  token of an insecure twin above every token of its fix). The activation is that logit; the monitor takes its max
  over a request's tokens (the sink excluded), the statistic trained.
- {_served(manifest)}
- Selection (dev): leave-one-set-out cross-validation over the {len(names)} hand-written sets. Each column is the
  AUROC on the set left out by a probe fit on the others; the candidate with the best mean ships, fit on every set.
  Its threshold {f['threshold']} is the mean of the folds' thresholds, each the highest precision at recall ≥ 0.85 on
  the set left out and {build['ordinary_dev']} ordinary dev window{'' if build['ordinary_dev'] == 1 else 's'} (mean
  precision {build['cv_precision']:.3f}, recall {build['cv_recall']:.3f} there). The shipped probe on
  {build['dev_pairs']} generated pairs (never trained on): AUROC {build['generated_dev_auroc']:.3f}, pair accuracy
  {build['generated_dev_pair_acc']:.3f}.

| layers | mean AUROC | {' | '.join(names)} | mean pair acc. | mean threshold |
|---|---|{'---|' * len(names)}---|---|
{cv_rows}

## Measured on held-out set {heldout['set'].upper()} (never trained on, never used to select)
{set_description} Reproduce with `steer eval unsafe-code` (writes docs/eval/unsafe-code.md, .png and .json).

{heldout_table}

Over all contexts: probe AUROC {a['probe_auroc']:.3f}, pair accuracy {a['probe_pair_acc']:.2f}, precision
{a['probe_precision']:.2f} / recall {a['probe_recall']:.2f} at the shipped threshold.

Against the goals of issue 12 (held-out): {verdict}.

## Limits
- {heldout['pairs']} pairs per context is a small set: one pair moves pair accuracy by {1 / heldout['pairs']:.3f}.
- The training programs were written by this project ({total} hand-written pairs); kinds of vulnerable code absent
  from them are not covered, and a construct whose insecurity is an *absence* (a missing `basename`, a missing
  `verify`) has no token of its own to score.
- The score is a max over tokens: one high token anywhere in a long request decides it, so long pasted files carry
  more chances of a false alarm than the short programs measured here.
"""


def _served(manifest: dict) -> str:
    """How the server computes the shipped probe: at one site, or summed over several (``readout: "sum"``)."""
    if manifest.get("readout") == "sum":
        layers = " and ".join(str(x["layer"]) for x in manifest["sites"])
        return (f"Served as a format-v2 pack with `readout: \"sum\"`: each of layers {layers} adds its term inside\n"
                f"  the forward and the monitor reads the sum at layer {manifest['sites'][-1]['layer']}.")
    return f"Served at layer {manifest['site']['layer']}: one site, format v1."
