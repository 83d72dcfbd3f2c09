"""``GET /v1/steering/packs[/{pack_id}]``, ``.../features/{feature}/neighbors`` and ``GET /v1/steering/map``: what
the loaded packs offer (response shapes in ``serving.py``)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from server.steering_api.serving import pack_view
from steering.errors import UnknownFeature, UnknownFeaturePack

router = APIRouter(prefix="/v1/steering")


def _runtime(request: Request, pack_id: str):
    rt = request.app.state.steer.require_ready().engine.runtime
    if pack_id not in rt.packs:
        raise UnknownFeaturePack(f"unknown feature pack '{pack_id[:64]}'", param="pack_id")
    return rt


@router.get("/packs")
async def list_packs(request: Request) -> dict:
    rt = request.app.state.steer.require_ready().engine.runtime
    return {"object": "list", "data": [pack_view(p) for p in rt.packs.values()]}


@router.get("/packs/{pack_id}")
async def get_pack(pack_id: str, request: Request) -> dict:
    return pack_view(_runtime(request, pack_id).packs[pack_id], full=True)


@router.get("/packs/{pack_id}/features/{feature}/neighbors")
async def feature_neighbors(pack_id: str, feature: str, request: Request, k: int = Query(10, ge=1, le=200),
                            same_layer: bool = False) -> dict:
    """Nearest features across all loaded packs by cosine similarity of decoder directions."""
    if (pack_id, feature) not in _runtime(request, pack_id).columns:
        raise UnknownFeature(f"pack '{pack_id}' has no feature '{feature[:64]}'", param="feature")
    return {"object": "list", "feature": f"{pack_id}/{feature}",
            "data": request.app.state.steer.feature_map().neighbors((pack_id, feature), k=k, same_layer=same_layer)}


@router.get("/map")
async def features_map(request: Request) -> dict:
    """Every loaded feature at 2-D coordinates (PCA of unit decoder directions), for a map view."""
    return {"object": "list", "data": request.app.state.steer.feature_map().layout_2d()}
