"""``steer corpus build``: the deterministic training corpus (packaged prose registers + code, with provenance).
The builder is imported inside the command, so ``--help`` answers at once."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from server.cli.common import Group


def register(g: Group) -> None:
    b = g.command("build", "mix packaged text sources (prose registers + code), with provenance",
                  ["steer corpus build --tokens 2000000 --seed 0",
                   "steer corpus build --sources wikipedia,python-code --out /tmp/corpus"], cmd_corpus_build)
    b.add_argument("--sources", help="comma-separated source names (default: every available source)")
    b.add_argument("--tokens", type=int, help="approximate token budget (4 characters per token)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--out", help="output directory (default: the cache directory's corpus/)")


def cmd_corpus_build(a: argparse.Namespace) -> int:
    from steerlab.build.corpus import build_corpus, default_corpus_dir

    out = Path(a.out) if a.out else default_corpus_dir()
    m = build_corpus(out, sources=a.sources.split(",") if a.sources else None, max_tokens_total=a.tokens, seed=a.seed)
    print(json.dumps(m.to_json(), indent=2)[:4000])
    return 0
