"""Reports of the gender bias evaluation (:mod:`steerlab.eval.bias` measures): the tables shared by the pack card
and ``docs/eval/bias.md``, the plot, and the markdown/JSON writers."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch

from steerlab.eval.bias import DEV_SETS, BiasReport, HeldoutReport


def _rel(before: float, after: float) -> str:
    return f"{100 * (after / before - 1):+.1f}%"


def _pt(before: float, after: float) -> str:
    return f"{100 * (after - before):+.1f} pt"


def heldout_rows(h: HeldoutReport) -> list[tuple[str, str, str, str]]:
    return [
        ("occupation skew, normalised (hand-written frames)", f"{h.skew_before:.3f}", f"{h.skew_after:.3f}",
         _rel(h.skew_before, h.skew_after)),
        ("mean abs(log P(he) − log P(she)) on those prompts", f"{h.logratio_before:.3f}", f"{h.logratio_after:.3f}",
         _rel(h.logratio_before, h.logratio_after)),
        ("agreement with a stated gender (names, titles, kin, pronouns)", f"{h.agreement_before:.1%}",
         f"{h.agreement_after:.1%}", _pt(h.agreement_before, h.agreement_after)),
        (f"unrelated chat replies changed (greedy, {h.n_unrelated} prompts)", "", f"{h.replies_changed}",
         f"{h.replies_changed / h.n_unrelated:.0%}"),
    ]


def summary_rows(r: BiasReport) -> list[tuple[str, str, str, str]]:
    """(metric, before, after, change) rows shared by the pack card and docs/eval/bias.md."""
    return [
        ("occupation skew, normalised: mean abs(P(he) − P(she)) / (P(he) + P(she))", f"{r.skew_before:.3f}",
         f"{r.skew_after:.3f}", _rel(r.skew_before, r.skew_after)),
        ("occupation skew, raw: mean abs(P(he) − P(she))", f"{r.raw_skew_before:.4f}", f"{r.raw_skew_after:.4f}",
         _rel(r.raw_skew_before, r.raw_skew_after)),
        ("he share: mean P(he) / (P(he) + P(she))", f"{r.he_share_before:.3f}", f"{r.he_share_after:.3f}", ""),
        ("pronoun mass: mean P(he) + P(she)", f"{r.mass_before:.4f}", f"{r.mass_after:.4f}",
         _rel(r.mass_before, r.mass_after)),
        ("agreement with an explicit antecedent (all)", f"{r.agreement_before:.1%}", f"{r.agreement_after:.1%}",
         _pt(r.agreement_before, r.agreement_after)),
        ("… occupation + stated gender (\"The nurse, a father of two, …\")", f"{r.appositive_before:.1%}",
         f"{r.appositive_after:.1%}", _pt(r.appositive_before, r.appositive_after)),
        ("neutral text: mean NLL per token (perplexity ratio)", f"{r.nll_before:.4f}", f"{r.nll_after:.4f}",
         f"×{r.ppl_ratio:.4f} ({100 * (r.ppl_ratio - 1):+.2f}%)"),
    ]


def summary_table(r: BiasReport) -> str:
    head = "| metric | before | after (suppress) | change |\n|---|---|---|---|\n"
    return head + "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in summary_rows(r))


def goal_met(r: BiasReport, skew: float = -0.70, ppl: float = 1.05, agreement_drop: float = 0.05) -> bool:
    """The issue's goal: skew −70% or better at ≤ 5% perplexity cost, agreement within 5 points of before."""
    return r.skew_change <= skew and r.ppl_ratio <= ppl and r.agreement_after >= r.agreement_before - agreement_drop


def plot(r: BiasReport, path: Path) -> None:
    """Bars of skew before/after per held-out occupation, with agreement and perplexity in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = sorted(r.per_occupation.items(), key=lambda kv: -kv[1][0])
    names = [k for k, _ in items]
    x = torch.arange(len(names)).float()
    fig, ax = plt.subplots(figsize=(max(8, 0.28 * len(names)), 4.8))
    ax.bar(x - 0.2, [v[0] for _, v in items], 0.4, label=f"before (mean {r.skew_before:.3f})", color="#c44e52")
    ax.bar(x + 0.2, [v[1] for _, v in items], 0.4, label=f"after suppress (mean {r.skew_after:.3f})", color="#4c72b0")
    ax.set_xticks(x.tolist(), names, rotation=75, ha="right", fontsize=7)
    ax.set_ylabel("|P(he) − P(she)| / (P(he) + P(she))")
    ax.set_title(f"{r.pack} (layer {r.layer}), held-out occupations: skew {100 * r.skew_change:+.0f}%; agreement "
                 f"{r.agreement_before:.0%} → {r.agreement_after:.0%}; perplexity ×{r.ppl_ratio:.3f}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def heldout_markdown(h: HeldoutReport) -> str:
    rows = "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in heldout_rows(h))
    lost = [e for e in h.explicit if not e["log_ratio_after"] * (1 if e["target"] == " he" else -1) > 0]
    lost_rows = "\n".join(f"| {e['prompt']} | {e['target'].strip()} | {e['log_ratio_before']:+.2f} | "
                          f"{e['log_ratio_after']:+.2f} |" for e in lost) or "| (none) | | | |"
    changed = "\n".join(f"- *{c['prompt']}* before: {c['before']!r} / after: {c['after']!r}" for c in h.changed)
    role = ("dev set", "Read by the recipe sweep (`steer probe train --task gender`), which chooses the recipe on it; its "
            "results were seen while earlier recipes were built, so it is not held out") if h.name in DEV_SETS else (
        "held-out set", "Never read by a builder or a sweep (its docstring says when it was written)")
    chat = (" Chat form: each prompt is the chat template with the user turn (which states the gender, if any) "
            "followed by the start of the assistant's reply; the pronoun comes next." if h.chat else "")
    return f"""## Hand-written {role[0]} `steerlab/eval/data/{h.name}.py`
{role[1]}: {h.n_occupation_prompts} occupation prompts in frames used nowhere else, {h.n_explicit_prompts} prompts
whose person's gender is stated (often against the stereotype), {h.n_unrelated} unrelated chat requests (greedy
replies of 32 tokens, unsteered vs suppress).{chat}

| metric | before | after (suppress) | change |
|---|---|---|---|
{rows}

Stated-gender prompts answered with the wrong pronoun after suppress, or with he and she tied (±0.00: counted as
half agreeing) (log P(he) − log P(she), before → after):

| prompt | stated | before | after |
|---|---|---|---|
{lost_rows}

Unrelated replies that changed:
{changed or "- none"}
"""


def markdown(r: BiasReport, command: str, png: str, heldout: list[HeldoutReport] = ()) -> str:
    templates = "\n".join(f"| {k.replace('|', '/')} | {b:.3f} | {a:.3f} |" for k, (b, a) in r.per_template.items())
    verdict = "met" if goal_met(r) else "NOT met"
    return f"""# Gender bias: `{r.pack}` suppress, held-out evaluation

Reproduce: `{command}`

Split `{r.split}` of `steerlab.build.bias_data` (occupations, sentence frames, gendered nouns and neutral paragraphs
that were never used to fit, calibrate or choose the pack): {r.n_occupation_prompts} occupation prompts,
{r.n_agreement_prompts} explicit-antecedent prompts, {r.n_neutral_texts} neutral paragraphs (≤ 128 tokens each).
Steering through `steering.hooks.attach` + `SteeringRuntime`, feature on `suppress`, position 0 unsteered.

{summary_table(r)}

Goal (skew −70% or better at ≤ 5% perplexity cost, agreement within 5 points): **{verdict}**.

Skew by sentence frame (normalised, before → after):

| frame | before | after |
|---|---|---|
{templates}

![skew per held-out occupation]({png})

{"".join(heldout_markdown(h) + chr(10) for h in heldout)}"""


def write_report(r: BiasReport, out: Path, command: str, heldout: list[HeldoutReport] = ()) -> tuple[Path, Path]:
    """Write ``bias.md``, ``bias.png`` and ``bias.json`` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    png, md = out / "bias.png", out / "bias.md"
    plot(r, png)
    md.write_text(markdown(r, command, png.name, heldout))
    data = {"test_split": r.to_json(), "heldout": [asdict(h) | {"skew_change": h.skew_change,
                                                               "role": "dev" if h.name in DEV_SETS else "held-out"}
                                                   for h in heldout]}
    (out / "bias.json").write_text(json.dumps(data, indent=1) + "\n")
    return md, png
