"""Build the ``unsafe-code`` monitor pack: a logistic probe on layer-L residual tokens, measured on held-out files.

Training data: steerlab.build.code_data (bandit's examples labelled by bandit, codeshield's ruleid/ok pairs),
comments stripped. Split by *file* (seeded): probes are trained on 70% of files and every reported number comes
from the other 30%. A line's score is the max over its tokens of the probe logit, which is exactly what the serving
monitor computes (per-token activation, max per request). The threshold is calibrated on ordinary code from a
separate source (the Python standard library) to a target false-positive rate, never on the test files.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
import sysconfig
from pathlib import Path

import torch
from tqdm import tqdm

from steering.hooks import decoder_layers
from steering.pack import ModelInfo, save_pack, write_pack_card
from steerlab.build.code_data import CodeFile, load_bandit_examples, load_codeshield, strip_comments

LICENSE = "bandit examples: Apache-2.0; codeshield fixtures: MIT; Python standard library: PSF-2.0"


def stdlib_files(n: int, seed: int, max_lines: int = 60) -> list[CodeFile]:
    """Ordinary code: windows of standard-library modules (tests and tools excluded), all lines label 0."""
    root = Path(sysconfig.get_paths()["stdlib"])
    paths = sorted(p for p in root.glob("*.py") if not p.name.startswith(("test", "_")))
    random.Random(seed).shuffle(paths)
    out = []
    for p in paths[:n]:
        lines = strip_comments(p.read_text(errors="replace")).splitlines()[:max_lines]
        out.append(CodeFile("stdlib", p.name, lines, [0 if line.strip() else None for line in lines]))
    return out


@torch.no_grad()
def token_activations(model, tok, files: list[CodeFile], layer: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per file: (residuals after ``layer`` ``[T, d]``, line index of each token ``[T]``); position 0 is the sink."""
    box = {}
    h = decoder_layers(model)[layer].register_forward_hook(lambda m, a, o: box.__setitem__("h", o))
    out = []
    try:
        for f in tqdm(files, desc=f"layer {layer} activations", unit="file"):
            text = "\n".join(f.lines)
            enc = tok(text, return_offsets_mapping=True, truncation=True, max_length=1024, return_tensors="pt")
            model(input_ids=enc["input_ids"], use_cache=False)
            starts = [0]
            for line in f.lines:
                starts.append(starts[-1] + len(line) + 1)
            line_of = [bisect.bisect_right(starts, s) - 1 for s, _ in enc["offset_mapping"][0].tolist()]
            out.append((box["h"][0].float(), torch.tensor(line_of)))
    finally:
        h.remove()
    return out


def line_table(acts, files, score) -> list[tuple[str, int, float, int]]:
    """Per labelled line: (file name, 1-based line, max token score on it (sink excluded), label)."""
    rows = []
    for (a, line_of), f in zip(acts, files, strict=True):
        s = score(a)
        for li, lab in enumerate(f.labels):
            m = line_of == li
            m[0] = False
            if lab is not None and m.any():
                rows.append((f.name, li + 1, float(s[m].max()), lab))
    return rows


def line_scores(acts, files, score) -> tuple[list[float], list[int]]:
    """Max token score per labelled line (sink excluded), and its label."""
    rows = line_table(acts, files, score)
    return [r[2] for r in rows], [r[3] for r in rows]


def split_files(files: list[CodeFile], seed: int = 0, holdout_sources: tuple[str, ...] = ()):
    """(train, test, external): files of ``holdout_sources`` are never trained on (``external``: a test set with
    labels independent of bandit); the other files are split 70/30 by file, seeded."""
    external = [f for f in files if f.source in holdout_sources]
    rest = [f for f in files if f.source not in holdout_sources]
    idx = list(range(len(rest)))
    random.Random(seed).shuffle(idx)
    cut = int(0.7 * len(idx))
    return [rest[i] for i in idx[:cut]], [rest[i] for i in idx[cut:]], external


def fit_logistic(Xp: torch.Tensor, Xn: torch.Tensor, l2: float = 1e-3) -> tuple[torch.Tensor, float]:
    """Class-balanced L2 logistic regression on standardised tokens (LBFGS); returns raw-space (w [d], b)."""
    X = torch.cat([Xp, Xn])
    mu, sd = X.mean(0), X.std(0) + 1e-6
    Z = (X - mu) / sd
    y = torch.cat([torch.ones(len(Xp)), torch.zeros(len(Xn))])
    wt = torch.where(y == 1, len(y) / (2 * len(Xp)), len(y) / (2 * len(Xn)))
    w = torch.zeros(X.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=300)

    def closure():
        opt.zero_grad()
        loss = (wt * torch.nn.functional.binary_cross_entropy_with_logits(Z @ w + b, y, reduction="none")).mean()
        loss = loss + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    w_raw = w.detach() / sd
    return w_raw, float(b.detach() - (mu / sd) @ w.detach())


def auroc(scores: list[float], labels: list[int]) -> float:
    s, y = torch.tensor(scores), torch.tensor(labels)
    pos, neg = s[y == 1], s[y == 0]
    return float((pos[:, None] > neg[None, :]).float().mean() + 0.5 * (pos[:, None] == neg[None, :]).float().mean())


def pr_at(scores, labels, thr) -> tuple[float, float]:
    tp = sum(s > thr and y == 1 for s, y in zip(scores, labels, strict=True))
    fp = sum(s > thr and y == 0 for s, y in zip(scores, labels, strict=True))
    fn = sum(s <= thr and y == 1 for s, y in zip(scores, labels, strict=True))
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1)


def build_unsafe_code_pack(model, tok, info: ModelInfo, *, out: Path, cache: Path, layer: int = 15,
                           target_fpr: float = 0.05, seed: int = 0, command: str = "",
                           holdout_sources: tuple[str, ...] = ()) -> dict:
    """``holdout_sources=("codeshield",)`` keeps codeshield's fixtures out of training so that probe and bandit can
    be compared on labels neither produced (the shipped pack trains on both sources: it detects more)."""
    files = load_bandit_examples(cache) + load_codeshield()
    train, test, external = split_files(files, seed, holdout_sources)
    ordinary = stdlib_files(40, seed)
    acts_train = token_activations(model, tok, train, layer)

    def tokens(label: int) -> torch.Tensor:
        rows = []
        for (a, line_of), f in zip(acts_train, train, strict=True):
            keep = torch.tensor([t > 0 and line_of[t] < len(f.labels) and f.labels[line_of[t]] == label
                                 for t in range(len(line_of))])
            rows.append(a[keep])
        return torch.cat(rows)

    w, b = fit_logistic(tokens(1), tokens(0))

    def score(a):
        return a @ w + b

    s_tr, y_tr = line_scores(acts_train, train, score)
    s_ord, _ = line_scores(token_activations(model, tok, ordinary, layer), ordinary, score)
    thr = float(torch.tensor(s_ord).quantile(1 - target_fpr))
    s_te, y_te = line_scores(token_activations(model, tok, test, layer), test, score)
    precision, recall = pr_at(s_te, y_te, thr)
    ops = {}
    for fpr in (0.01, 0.05, 0.10):
        t = float(torch.tensor(s_ord).quantile(1 - fpr))
        ops[fpr] = (t, *pr_at(s_te, y_te, t))
    pos_tr = torch.tensor([s for s, y in zip(s_tr, y_tr, strict=True) if y == 1])
    result = {
        "layer": layer, "files": len(files), "train_files": len(train), "test_files": len(test),
        "test_lines_insecure": sum(y_te), "test_lines_ordinary": len(y_te) - sum(y_te),
        "auroc": auroc(s_te, y_te), "threshold": thr, "precision": precision, "recall": recall,
        "ordinary_fpr_target": target_fpr, "train_auroc": auroc(s_tr, y_tr),
        "test_files_names": sorted(f.name for f in test), "operating_points": ops,
    }
    w_dec = w / w.dot(w)  # clamp/suppress move the logit: W_dec · W_enc = 1
    manifest = {
        "id": "unsafe-code", "version": "1", "title": "Unsafe Python code (monitor)",
        "description": "Logistic probe on layer-15 residual tokens for insecure Python: shell injection, "
                       "eval/exec of input, SQL built from strings, unsafe deserialisation, weak crypto, "
                       "hard-coded secrets and more (bandit's and codeshield's classes). Monitor only.",
        "model": info.model_dump(), "site": {"layer": layer, "point": "resid_post"}, "encoder": {"kind": "probe"},
        "features": [{"name": "python", "index": 0, "label": "insecure Python code",
                      "description": "probe logit; > threshold on some token = an insecure construct is present",
                      "default_op": "monitor", "max_activation": round(float(pos_tr.quantile(0.99)), 6),
                      "threshold": round(thr, 6), "tags": ["safety", "code"], "action": "flag"}],
        "provenance": {"source": "bandit 1.9.4 examples (labelled by bandit), codeshield 1.0.1 semgrep fixtures"
                                 + (f" (held out: {', '.join(holdout_sources)})" if holdout_sources else ""),
                       "corpus": f"{len(train) + len(test)} files, file-level 70/30 split, seed "
                                 f"{seed}; ordinary code: {len(ordinary)} stdlib modules", "command": command,
                       "date": dt.date.today().isoformat(), "license": LICENSE},
    }
    pack = save_pack(out, manifest, {"W_dec": w_dec[None], "W_enc": w[:, None], "b_enc": torch.tensor([b])},
                     card=card(manifest, result))
    if external:
        from steerlab.eval.detection import SETS, detection_report  # what `steer eval detection` reproduces

        sets = detection_report(model, tok, pack, files, seed, holdout_sources)["sets"]
        result["external"] = sets[SETS[("codeshield", "external")]]
        write_pack_card(out, card(manifest, result))
    return result


def card(manifest: dict, r: dict) -> str:
    f = manifest["features"][0]
    ext = r.get("external")
    ext_rows = "" if ext is None else "\n".join([
        f"| codeshield fixtures (independent `# ruleid:`/`# ok:` labels) | probe | {ext['lines_insecure']} / "
        f"{ext['lines_safe']} | {ext['probe_auroc']:.3f} | {ext['probe_precision']:.3f} | {ext['probe_recall']:.3f} |",
        *(f"| same lines | {k} | | – | {ext[k]['precision']:.3f} | {ext[k]['recall']:.3f} |"
          for k in ("bandit ≥ MEDIUM", "bandit ≥ LOW") if k in ext)])
    return f"""# Unsafe Python code (`unsafe-code/python`) — monitor

{manifest['description']}

## How it was built
- Command: `{manifest['provenance']['command'] or 'steer probe train --task unsafe-code'}`
- Data: {manifest['provenance']['source']}; {r['train_files'] + r['test_files']} files split 70/30, comments
  stripped (so `# bad` / `# ruleid` notes cannot leak labels). Lines bandit flags at MEDIUM/HIGH (imports and
  `assert` ignored) or codeshield marks `ruleid` are insecure; other code lines are ordinary.{
  " codeshield's fixtures are **not** trained on: they are the independent test set below." if ext else ""}
- Probe: class-balanced L2 logistic regression on every token of insecure vs ordinary lines, layer {r['layer']}
  `resid_post`, trained on {r['train_files']} files. The activation is the logit `h·w + b`; the monitor takes its
  max over a request's tokens (the sink position excluded).
- Threshold {f['threshold']}: the {100 * (1 - r['ordinary_fpr_target']):.0f}th percentile of per-line maxima on
  ordinary code from the Python standard library (a source the probe never saw), i.e. ≈{r['ordinary_fpr_target']:.0%}
  of ordinary lines fire. `max_activation` = p99 of insecure-line maxima in training = {f['max_activation']}.

## Measured on held-out code (never used to train or calibrate)
Reproduce with `steer eval detection` (writes docs/eval/detection.md and detection.png).

| set | detector | insecure / safe lines | AUROC | precision | recall |
|---|---|---|---|---|---|
| {r['test_files']} held-out files (labels by bandit / codeshield) | probe | {r['test_lines_insecure']} / \
{r['test_lines_ordinary']} | **{r['auroc']:.3f}** | {r['precision']:.3f} | {r['recall']:.3f} |
{ext_rows}

(Training-file AUROC, for reference: {r['train_auroc']:.3f}.) Other operating points on the bandit test files
(threshold = percentile of ordinary stdlib lines):
{chr(10).join(f"- {fpr:.0%} of ordinary lines over: threshold {t:.3f}, precision {p:.3f}, recall {rc:.3f}"
              for fpr, (t, p, rc) in r['operating_points'].items())}

Limits, honestly: bandit is not scored on its own examples (it labelled them). The independent codeshield set is
small (5 files of matched insecure/safe lines), so its numbers carry wide uncertainty. Held-out bandit files share
vulnerability classes with training files, so they measure new code of known kinds. The issue's goals (AUROC ≥ 0.95,
precision ≥ 0.9, recall ≥ 0.8, better recall than bandit) are compared against these numbers in docs/eval/.

Test files: {', '.join(r['test_files_names'])}.
"""
