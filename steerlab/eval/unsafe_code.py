"""The ``unsafe-code`` monitor on the held-out matched pairs, beside bandit, in four contexts.

The sets: hand-written programs, each insecure and fixed. Set G (``steerlab/eval/data/unsafe_code_heldout_g.py``, 48
pairs) is never trained on or used to select, and is what the pack reports on. Sets A (``unsafe_code_heldout.py``,
30 pairs), C (``_c``, 41), D (``_d``, 40), E (``_e``, 48) and F (``_f``, 48), held-out sets of earlier versions, are
training data and the folds of the build's cross-validation (decisions 74, 79). Contexts, as live traffic carries code
(each set has its own chat and prose wrappers):

* ``raw``: the program alone, as ``/v1/completions`` sends it;
* ``chat``: pasted into a user message (a question, a fenced block) under the model's chat template;
* ``truncated``: cut at the end of the line where the twins stop differing (the rest of the function missing; the
  cut falls at a line end, so the rest often still parses and bandit can read it);
* ``prose``: inside a markdown document (a paragraph before, a fenced block, a paragraph after), raw text.

Probe score of a program = max over its tokens (the sink excluded) of the probe logit (for a ``readout: "sum"``
pack, the sum of its sites' terms), what the serving monitor computes; it fires above the pack's threshold. Bandit
1.9.4 runs on each text as a file; its score is the highest severity it reports (0 none, 1 LOW, 2 MEDIUM, 3 HIGH);
it cannot parse truncated code or prose (score 0).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from steering.pack import FeaturePack
from steerlab.build.code_pairs import HANDWRITTEN_CONTEXTS as CONTEXTS
from steerlab.build.code_pairs import handwritten_rows
from steerlab.build.unsafe_code_pairs import model_text, residuals
from steerlab.eval.data import (
    unsafe_code_heldout,
    unsafe_code_heldout_c,
    unsafe_code_heldout_d,
    unsafe_code_heldout_e,
    unsafe_code_heldout_f,
    unsafe_code_heldout_g,
)
from steerlab.metrics import auroc

SETS = {"a": unsafe_code_heldout, "c": unsafe_code_heldout_c, "d": unsafe_code_heldout_d, "e": unsafe_code_heldout_e,
        "f": unsafe_code_heldout_f, "g": unsafe_code_heldout_g}
ROLES = {
    "a": "written before the first pair generator; the held-out set of version 1, a dev set of versions 2 and 3 and "
         "training data since version 4, so these numbers are not held-out",
    "c": "written before version 3 of the pack and its held-out set; training data since version 5, so these numbers "
         "are not held-out",
    "d": "written before version 4 of the pack and version 3's held-out set; the selection set of version 5 and "
         "training data since version 6, so these numbers are not held-out",
    "e": "written before version 5 and its held-out set; training data since version 6, so these numbers are not "
         "held-out",
    "f": "written before version 6 and its held-out set; training data since version 7, so these numbers are not "
         "held-out",
    "g": "written before version 7 and never trained on or used to select anything: the set the pack reports on",
}
SEVERITY = {"LOW": 1, "MEDIUM": 2, "HIGH": 3}


def heldout_texts(tok, data) -> list[dict]:
    """Every program of a hand-written set in every context, with the text the model reads."""
    return [r | {"model_text": model_text(tok, r["source"], r["model_context"])[0]} for r in handwritten_rows(data)]


def bandit_scores(texts: list[str]) -> list[int]:
    """Highest bandit severity per text (0 when it reports nothing or cannot parse)."""
    exe = shutil.which("bandit") or str(Path(sys.executable).with_name("bandit"))
    with tempfile.TemporaryDirectory() as d:
        for i, t in enumerate(texts):
            Path(d, f"s{i:04d}.py").write_text(t)
        r = subprocess.run([exe, "-q", "-r", d, "-f", "json"], capture_output=True, text=True)
        found = json.loads(r.stdout or "{}").get("results", [])
    best = [0] * len(texts)
    for f in found:
        i = int(Path(f["filename"]).stem[1:])
        best[i] = max(best[i], SEVERITY.get(f["issue_severity"], 0))
    return best


def _pr(fired: list[bool], labels: list[int]) -> tuple[float, float]:
    tp = sum(f and y for f, y in zip(fired, labels, strict=True))
    fp = sum(f and not y for f, y in zip(fired, labels, strict=True))
    return tp / max(tp + fp, 1), tp / max(sum(labels), 1)


def _pairs(rows, scores) -> float:
    """Share of pairs (per context) whose insecure twin scores strictly above its fixed twin."""
    by = {}
    for r, s in zip(rows, scores, strict=True):
        by.setdefault((r["pair"], r["context"]), {})[r["label"]] = s
    return sum(d[1] > d[0] for d in by.values()) / len(by)


def read_sites(pack: FeaturePack) -> list:
    """The sites whose terms make the probe's reading: all of them for ``readout: "sum"``, else the read site."""
    return list(pack.sites) if pack.manifest.readout == "sum" else [pack.sites[0]]


def logits(acts: dict, sites: list) -> torch.Tensor:
    """Per token ``[T]``: the probe logit of feature 0 summed over ``sites`` from residuals ``{layer: [T, d]}``."""
    return sum(acts[s.layer].float() @ s.W_enc[:, 0].float() + float(s.b_enc[0]) for s in sites)


def evaluate_unsafe_code(model, tok, pack: FeaturePack, set_name: str = "g") -> dict:
    data = SETS[set_name]
    rows = heldout_texts(tok, data)
    thr = pack.manifest.features[0].threshold
    sites = read_sites(pack)
    acts = residuals(model, tok, [r["model_text"] for r in rows], [s.layer for s in sites], "held-out programs")
    probe = [float(logits(a, sites)[1:].max()) for a, _ in acts]
    band = bandit_scores([r["source"] for r in rows])
    out = {"set": set_name, "module": data.__name__, "threshold": thr, "layer": "+".join(str(s.layer) for s in sites),
           "pairs": len(data.PAIRS), "contexts": {}}
    for ctx in CONTEXTS + ("all",):
        idx = [i for i, r in enumerate(rows) if ctx == "all" or r["context"] == ctx]
        sub = [rows[i] for i in idx]
        y = [r["label"] for r in sub]
        ps, bs = [probe[i] for i in idx], [band[i] for i in idx]
        p_prec, p_rec = _pr([s > thr for s in ps], y)
        bm_prec, bm_rec = _pr([s >= 2 for s in bs], y)
        bl_prec, bl_rec = _pr([s >= 1 for s in bs], y)
        out["contexts"][ctx] = {
            "n": len(sub), "probe_auroc": auroc(ps, y), "probe_pair_acc": _pairs(sub, ps),
            "probe_precision": p_prec, "probe_recall": p_rec, "bandit_auroc": auroc([float(s) for s in bs], y),
            "bandit_pair_acc": _pairs(sub, bs), "bandit_medium_precision": bm_prec, "bandit_medium_recall": bm_rec,
            "bandit_low_precision": bl_prec, "bandit_low_recall": bl_rec,
        }
    out["rows"] = [{k: v for k, v in r.items() if k not in ("model_text", "model_context")} | {"probe": p, "bandit": s}
                   for r, p, s in zip(rows, probe, band, strict=True)]
    return out


def describe_set(r: dict) -> str:
    """One paragraph: which set, what it is, how the probe and bandit are scored."""
    role = ROLES[r["set"]]
    return (f"{r['pairs']} hand-written programs, each insecure and fixed (`{r['module'].replace('.', '/')}.py`), "
            f"{role}. Four contexts: raw; pasted into a chat message; cut off after the construct; inside markdown "
            f"prose. Probe: max over the text's tokens (the sink excluded) of the logit at layer(s) {r['layer']}, "
            f"threshold {r['threshold']}. bandit on the same texts (score = highest severity).")


def report(result: dict, build: dict | None = None) -> str:
    c = result["contexts"]
    lines = ["| context | programs | probe AUROC | probe pair acc. | probe P / R at threshold | bandit AUROC | "
             "bandit pair acc. | bandit ≥ MEDIUM P / R | bandit ≥ LOW P / R |", "|---|---|---|---|---|---|---|---|---|"]
    for ctx in CONTEXTS + ("all",):
        r = c[ctx]
        lines.append(f"| {ctx} | {r['n']} | **{r['probe_auroc']:.3f}** | {r['probe_pair_acc']:.2f} | "
                     f"{r['probe_precision']:.2f} / {r['probe_recall']:.2f} | {r['bandit_auroc']:.3f} | "
                     f"{r['bandit_pair_acc']:.2f} | {r['bandit_medium_precision']:.2f} / "
                     f"{r['bandit_medium_recall']:.2f} | {r['bandit_low_precision']:.2f} / "
                     f"{r['bandit_low_recall']:.2f} |")
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = result["contexts"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    x = range(len(CONTEXTS))
    for ax, (key_p, key_b, title) in zip(axes, [("probe_auroc", "bandit_auroc", "AUROC, insecure vs fixed twin"),
                                                ("probe_recall", "bandit_medium_recall",
                                                 "recall (probe at threshold, bandit ≥ MEDIUM)")], strict=True):
        ax.bar([i - 0.2 for i in x], [c[k][key_p] for k in CONTEXTS], 0.4, label="steerserve probe")
        ax.bar([i + 0.2 for i in x], [c[k][key_b] for k in CONTEXTS], 0.4, label="bandit 1.9.4")
        ax.set_xticks(list(x), CONTEXTS)
        ax.set_ylim(0, 1.05)
        ax.set_title(title, fontsize=10)
    axes[0].axhline(0.95, ls="--", c="gray", lw=0.8)
    axes[0].legend(fontsize=8, loc="lower left")
    fig.suptitle(f"unsafe-code monitor on set {result['set'].upper()}: {result['pairs']} hand-written matched pairs "
                 f"(layers {result['layer']})",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
