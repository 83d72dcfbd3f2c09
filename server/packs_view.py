"""How packs look to clients (``GET /v1/steering/packs``): ids, labels, defaults, calibration; never paths."""

from __future__ import annotations

from steering.pack import FeaturePack


def pack_view(pack: FeaturePack, full: bool = False) -> dict:
    m = pack.manifest
    out = {
        "id": m.id,
        "object": "steering.pack",
        "title": m.title,
        "version": m.version,
        "site": {"layer": m.site.layer, "point": m.site.point},
        "encoder": m.encoder.kind,
        "features": [
            {"name": f.name, "label": f.label, "default_op": f.default_op, "default_value": f.default_value,
             "max_activation": f.max_activation, "threshold": f.threshold, "action": f.action, "tags": f.tags}
            for f in m.features
        ],
    }
    if full:
        out["description"] = m.description
        out["model"] = m.model.model_dump()
        out["provenance"] = m.provenance.model_dump()
    return out
