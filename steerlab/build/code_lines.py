"""Line-level code helpers: ordinary code windows from the standard library, per-token activations of code files,
per-line scores, and the seeded file-level split. Used by `steer eval detection` (line-labelled bandit/codeshield
files) and by the pair-trained unsafe-code builder (steerlab/build/unsafe_code_pairs.py). A line's score is the max
over its tokens, as the serving monitor takes the max over a request's tokens.
"""

from __future__ import annotations

import bisect
import random
import sysconfig
from pathlib import Path

import torch
from tqdm import tqdm

from steering.hooks import decoder_layers
from steerlab.build.code_data import CodeFile, strip_comments


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
