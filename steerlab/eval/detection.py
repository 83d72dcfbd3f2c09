"""Detection: the ``unsafe-code`` monitor against ``bandit`` on held-out code, line by line.

Two held-out sets, neither used to train or calibrate the probe:

* **bandit-examples test files** (the 30% file split of bandit's examples): labels come from running bandit, so
  only the probe is scored there (bandit would be 1.0 by construction);
* **codeshield fixtures** (never used for the probe): matched insecure / safe lines labelled by codeshield's own
  ``# ruleid:`` / ``# ok:`` annotations — labels independent of both detectors, so probe and bandit are scored side
  by side on exactly the same lines.

A line's probe score is the max over its tokens of the probe logit (what the serving monitor computes); it fires
when the score exceeds the pack's shipped threshold. Bandit "fires" on a line when it reports an issue whose line
range covers it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from steering.pack import FeaturePack
from steerlab.build.code_data import CodeFile, bandit_findings, codeshield_dir
from steerlab.build.code_lines import line_table, split_files, token_activations
from steerlab.eval.unsafe_code import logits, read_sites
from steerlab.metrics import auroc, pr_at


@dataclass
class LineSet:
    name: str
    keys: list[tuple[str, int]]  # (file name, 1-based line)
    scores: list[float]
    labels: list[int]

    def bandit(self, found: dict[str, set[int]]) -> list[int]:
        return [int(line in found.get(f, ())) for f, line in self.keys]


def _binary(pred: list[int], labels: list[int]) -> dict:
    p, r = pr_at([float(x) for x in pred], labels, 0.5)
    fp = sum(x and not y for x, y in zip(pred, labels, strict=True))
    return {"precision": p, "recall": r, "fpr": fp / max(labels.count(0), 1), "flagged": sum(pred)}


def score_files(model, tok, pack: FeaturePack, files: list[CodeFile], name: str) -> LineSet:
    sites = read_sites(pack)  # the read site, or every site of a readout-"sum" probe
    per_site = [token_activations(model, tok, files, s.layer) for s in sites]
    acts = [({s.layer: a for s, (a, _) in zip(sites, xs, strict=True)}, xs[0][1]) for xs in zip(*per_site, strict=True)]
    rows = line_table(acts, files, lambda a: logits(a, sites))
    return LineSet(name, [(f, ln) for f, ln, _, _ in rows], [s for *_, s, _ in rows], [y for *_, y in rows])


SETS = {  # (source, held out how) -> the set's name in the report
    ("bandit-examples", "test"): "bandit-examples test files (labels by bandit)",
    ("codeshield", "test"): "codeshield test files (independent labels)",
    ("codeshield", "external"): "codeshield fixtures, source held out (independent labels)",
}


def detection_report(model, tok, pack: FeaturePack, files: list[CodeFile], seed: int = 0,
                     holdout_sources: tuple[str, ...] = ()) -> dict:
    """Probe (and bandit where labels are independent) on the held-out files of the pack's build split: ``files``
    as the builder loaded them, ``seed`` and ``holdout_sources`` as it was built. Test files are scored per
    source; codeshield lines (``# ruleid:`` / ``# ok:`` labels, produced by neither detector) also by bandit."""
    _, test, external = split_files(files, seed, holdout_sources)
    thr = pack.manifest.features[0].threshold
    out = {"threshold": thr, "holdout_sources": list(holdout_sources), "sets": {}}
    groups = [((src, "test"), [f for f in test if f.source == src]) for src in ("bandit-examples", "codeshield")]
    groups.append((("codeshield", "external"), [f for f in external if f.source == "codeshield"]))
    for key, group in groups:
        if not group:
            continue
        ls = score_files(model, tok, pack, group, SETS[key])
        p, r = pr_at(ls.scores, ls.labels, thr)
        entry = {"lines_insecure": sum(ls.labels), "lines_safe": len(ls.labels) - sum(ls.labels),
                 "probe_auroc": auroc(ls.scores, ls.labels), "probe_precision": p, "probe_recall": r,
                 "probe": _binary([int(x > thr) for x in ls.scores], ls.labels),
                 "scores": ls.scores, "labels": ls.labels, "files": sorted({f for f, _ in ls.keys})}
        if key[0] == "codeshield":
            for label, sev in (("bandit ≥ MEDIUM", ("MEDIUM", "HIGH")), ("bandit ≥ LOW", ("LOW", "MEDIUM", "HIGH"))):
                pred = ls.bandit(bandit_findings(codeshield_dir(), severities=sev, ignored=()))
                entry[label] = _binary(pred, ls.labels)
        out["sets"][ls.name] = entry
    return out


def roc_points(scores: list[float], labels: list[int]) -> tuple[list[float], list[float]]:
    s, y = torch.tensor(scores), torch.tensor(labels)
    order = torch.argsort(s, descending=True)
    y = y[order]
    tp = torch.cumsum(y, 0).float() / max(int(y.sum()), 1)
    fp = torch.cumsum(1 - y, 0).float() / max(int((1 - y).sum()), 1)
    return [0.0, *fp.tolist()], [0.0, *tp.tolist()]


def write_report(r: dict, out_dir: Path, command: str) -> Path:
    """docs/eval/detection.md + detection.png (ROC of the probe per set, bandit's operating points)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(r["sets"]), figsize=(5 * len(r["sets"]), 4.5), squeeze=False)
    for ax, (name, e) in zip(axes[0], r["sets"].items(), strict=True):
        fx, ty = roc_points(e["scores"], e["labels"])
        ax.plot(fx, ty, label=f"probe (AUROC {e['probe_auroc']:.3f})")
        ax.plot([e["probe"]["fpr"]], [e["probe_recall"]], "o",
                label=f"probe at threshold (P {e['probe_precision']:.2f}, R {e['probe_recall']:.2f})")
        for key, marker in (("bandit ≥ MEDIUM", "s"), ("bandit ≥ LOW", "^")):
            if key in e:
                p, rc = e[key]["precision"], e[key]["recall"]
                ax.plot([e[key]["fpr"]], [rc], marker, label=f"{key} (P {p:.2f}, R {rc:.2f})")
        ax.plot([0, 1], [0, 1], ":", color="grey")
        ax.set(title=name.replace(" (", "\n("), xlabel="false-positive rate (lines)", ylabel="recall (lines)")
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    png = out_dir / "detection.png"
    fig.savefig(png, dpi=110)
    plt.close(fig)
    rows = []
    for name, e in r["sets"].items():
        rows.append(f"| {name} | probe | {e['lines_insecure']} / {e['lines_safe']} | {e['probe_auroc']:.3f} | "
                    f"{e['probe_precision']:.3f} | {e['probe_recall']:.3f} |")
        for key in ("bandit ≥ MEDIUM", "bandit ≥ LOW"):
            if key in e:
                rows.append(f"| {name} | {key} | {e['lines_insecure']} / {e['lines_safe']} | – | "
                            f"{e[key]['precision']:.3f} | {e[key]['recall']:.3f} |")
    independent = any("bandit ≥ MEDIUM" in e for e in r["sets"].values())
    note = "" if independent else (
        "\nNo codeshield file fell in this pack's test split (codeshield has 5 Python fixtures), so there are no labels "
        "here that neither detector produced. The side-by-side with bandit uses a build with codeshield held out: "
        "`steer probe train --task unsafe-code --method logistic --layer 15 --target-fpr 0.05 --holdout codeshield "
        "--out DIR`, then `steer eval detection --pack DIR --holdout codeshield` "
        "([detection-holdout/detection.md](detection-holdout/detection.md)).\n")
    md = out_dir / "detection.md"
    md.write_text(f"""# Detection: `unsafe-code/python` vs bandit (held-out code)

Reproduce: `{command}`

Probe threshold: {r['threshold']} (the pack's own, calibrated at build time). A line's probe score is the max
token logit on it; bandit fires on a line its findings cover. Labels: bandit-examples lines are labelled *by
bandit* (so bandit is not scored there); codeshield lines by codeshield's `# ruleid:` / `# ok:` annotations
(independent of both detectors).
Held-out sources at build time: {', '.join(r['holdout_sources']) or 'none'} (test files: the seeded 30% file split).

| set | detector | insecure / safe lines | AUROC | precision | recall |
|---|---|---|---|---|---|
{chr(10).join(rows)}

{note}
![ROC](detection.png)

Files: {'; '.join(f"{n}: {', '.join(e['files'])}" for n, e in r['sets'].items())}.
""")
    return md
