"""How packs look to clients (``GET /v1/steering/packs``): ids, labels, defaults, calibration; never paths."""

from __future__ import annotations

import re

from steering.pack import FeaturePack
from steering.pack.examples import read_examples

# an absolute path inside free text (a build command, a source): clients see only its last component
_ABS_PATH = re.compile(r"(?<![\w.~:/-])/(?:[\w.+~-]+/)*([\w.+~-]+)")


def redact_paths(text: str) -> str:
    """``'steer sae label --sae /root/.cache/x/l15'`` → ``'steer sae label --sae <path>/l15'``."""
    return _ABS_PATH.sub(lambda m: f"<path>/{m.group(1)}", text)


def pack_view(pack: FeaturePack, full: bool = False) -> dict:
    m = pack.manifest
    out = {
        "id": m.id,
        "object": "steering.pack",
        "title": m.title,
        "version": m.version,
        # where monitors read (v1: the only site; v2: sites[0], or the highest site of a readout-"sum" probe)
        "site": next(s for s in m.all_sites if s.layer == m.monitor_layer).model_dump(),
        "sites": [s.model_dump() for s in m.all_sites],
        "readout": m.readout,
        "encoder": m.encoder.kind,
        "features": [
            {"name": f.name, "label": f.label, "default_op": f.default_op, "default_value": f.default_value,
             "max_activation": f.max_activation, "threshold": f.threshold, "action": f.action, "tags": f.tags,
             "apply_to": f.apply_to, "read_at": f.read_at}
            for f in m.features
        ],
    }
    if full:
        out["description"] = m.description
        out["model"] = m.model.model_dump()
        out["provenance"] = {k: redact_paths(v) for k, v in m.provenance.model_dump().items()}
        ex = read_examples(pack.path)
        shown = (ex or {}).get("features", {})
        out["features"] = [{**v, "description": f.description, "examples": shown.get(f.name, [])}
                           for v, f in zip(out["features"], m.features, strict=True)]
        out["examples_source"] = None if ex is None else {"command": redact_paths(ex["command"]),
                                                          "corpus": redact_paths(ex["corpus"])}
        out["card"] = card(pack)
    return out


def card(pack: FeaturePack, limit: int = 64 * 1024) -> str | None:
    """The pack's README.md (its card: how it was built, measured numbers), paths redacted, at most ``limit``."""
    readme = pack.path / "README.md" if pack.path is not None else None
    if readme is None or not readme.is_file():
        return None
    return redact_paths(readme.read_text(encoding="utf-8", errors="replace")[:limit])
