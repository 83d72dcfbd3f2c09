"""A pack's optional ``examples.json``: top-activating contexts per feature, for people browsing the pack.

Written by ``steer features top --write-examples`` (the contexts come from running the pack's own activation
function over a text mix; the command and corpus are recorded in the file). Like the card (README.md) it documents
the pack and is not part of what the runtime loads or verifies: a missing or malformed file only means no examples.

    {"format": "steering-pack-examples", "command": "...", "corpus": "...",
     "features": {"<name>": [{"activation": 2.78, "context": "… near the «San» Francisco …"}]}}
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

EXAMPLES_FILE = "examples.json"
MAX_BYTES = 1 << 20
MAX_PER_FEATURE = 50
MAX_CONTEXT_CHARS = 400

log = logging.getLogger("steerserve.pack")


def write_examples(pack_dir: Path, contexts: dict[str, list[tuple[float, str]]], *, command: str, corpus: str) -> Path:
    """``contexts``: feature name → [(activation, context)], highest first."""
    body = {"format": "steering-pack-examples", "command": command, "corpus": corpus,
            "features": {name: [{"activation": round(v, 5), "context": c[:MAX_CONTEXT_CHARS]}
                                for v, c in ctxs[:MAX_PER_FEATURE] if math.isfinite(v)]
                         for name, ctxs in contexts.items()}}
    dest = Path(pack_dir) / EXAMPLES_FILE
    dest.write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return dest


def read_examples(pack_dir: Path | None) -> dict | None:
    """The file's content, checked for shape and size; None when absent or unusable (logged)."""
    path = Path(pack_dir) / EXAMPLES_FILE if pack_dir is not None else None
    if path is None or not path.is_file():
        return None
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ValueError(f"over {MAX_BYTES} bytes")
        body = json.loads(path.read_text(encoding="utf-8"))
        if body.get("format") != "steering-pack-examples" or not isinstance(body.get("features"), dict):
            raise ValueError("not a steering-pack-examples file")
        feats = {str(name): [{"activation": float(x["activation"]), "context": str(x["context"])[:MAX_CONTEXT_CHARS]}
                             for x in items[:MAX_PER_FEATURE]]
                 for name, items in body["features"].items()}
    except (OSError, ValueError, TypeError, KeyError) as e:
        log.warning("%s ignored: %s", path, e)
        return None
    return {"command": str(body.get("command", "")), "corpus": str(body.get("corpus", "")), "features": feats}
