"""``GET /health``: what a load balancer or Kubernetes probe asks (deploy/README.md). 200 ``ok``; else 503 with
``loading`` (the engine loads in the background while the server listens), ``failed`` (it could not load: the
server then exits), ``draining`` (from the shutdown signal on) or ``dead`` (the engine stopped)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter()


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    state = request.app.state.steer
    ok = state.engine is not None and state.engine.health() and not state.draining
    status = ("ok" if ok else "draining" if state.draining else "failed" if state.load_error is not None
              else "loading" if state.engine is None else "dead")
    return JSONResponse({"status": status}, status_code=200 if ok else 503)
