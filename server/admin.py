"""Admin routes (admin key only, enforced by AuthMiddleware): pack reload, monitor switches. Every change is
audited in the log and raised as an alert."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from server.alerts import Alert
from server.engines.loader import packs_root
from server.errors import APIError
from steering.errors import UnknownFeature
from steering.pack import load_packs

log = logging.getLogger("steerserve.audit")
router = APIRouter(prefix="/admin")


class MonitorSwitch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool


def _audit(request: Request, what: str, feature: str = "-") -> None:
    st = request.app.state.steer
    key = getattr(request.scope.get("steerserve.key"), "name", None)
    log.warning("admin %s by %s", what, key or "(no keys configured)")
    st.alerts.emit(Alert.event(st.engine.model_info().id, feature, "admin", "admin", key, what))


@router.post("/packs/reload")
async def reload_packs(request: Request) -> dict:
    """Verify every pack under the packs root, then swap the table atomically: requests in flight finish on the
    table they started with; a pack that fails verification aborts the reload and nothing changes."""
    st = request.app.state.steer
    svc = st.require_ready()
    root = Path(st.settings.packs) if st.settings.packs else packs_root(st.settings, svc.engine.model_info().id)
    packs = load_packs(root, svc.engine.pack_model, strict=True)
    runtime = await asyncio.to_thread(svc.engine.reload, packs)
    st.policy = st.compile_policy(runtime).keep_switches(st.policy)
    _audit(request, f"reloaded {len(packs)} packs")
    return {"object": "list", "data": [p.id for p in packs]}


@router.get("/monitors")
async def monitors(request: Request) -> dict:
    st = request.app.state.steer
    p = st.policy
    return {"mandatory": sorted(f"{a}/{b}" for a, b in p.mandatory),
            "disabled": sorted(f"{a}/{b}" for a, b in p.disabled)}


@router.post("/monitors/{pack_id}/{feature}")
async def switch_monitor(pack_id: str, feature: str, body: MonitorSwitch, request: Request) -> dict:
    st = request.app.state.steer
    svc = st.require_ready()
    ref = (pack_id, feature)
    svc.engine.runtime.column(ref)  # unknown pack / feature → 404 / 400
    if ref not in st.policy.mandatory and not body.enabled:
        raise UnknownFeature(f"'{pack_id}/{feature}' is not a mandatory monitor", param="feature")
    (st.policy.disabled.discard if body.enabled else st.policy.disabled.add)(ref)
    _audit(request, f"monitor {pack_id}/{feature} {'enabled' if body.enabled else 'disabled'}", f"{pack_id}/{feature}")
    return {"feature": f"{pack_id}/{feature}", "enabled": body.enabled}


__all__ = ["router", "APIError"]
