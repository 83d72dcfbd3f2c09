"""``GET /v1/models``: the one served model."""

from __future__ import annotations

from fastapi import APIRouter, Request

from server.protocol import now

router = APIRouter()


@router.get("/v1/models")
async def models(request: Request) -> dict:
    info = request.app.state.steer.require_ready().engine.model_info()
    return {"object": "list", "data": [{"id": info.id, "object": "model", "created": now(),
                                        "owned_by": "steerserve", "max_model_len": info.max_model_len}]}
