"""``build_app(settings, engine)``: the FastAPI application, wired — state, lifespan, error handlers, one router
per resource, middleware. Routes live with their resource (``server/openai/<resource>/api_router.py``,
``server/steering_api/``, ``server/admin.py``, ...); serving (uvicorn) is ``server/cli/serve.py``."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from server import admin, errors, health, metrics
from server.engines.base import Engine
from server.middleware import AuthMiddleware, LimitsMiddleware, MetricsMiddleware
from server.openai import models
from server.openai.chat_completion import api_router as chat_completion
from server.openai.completion import api_router as completion
from server.playground import api_router as playground
from server.policy import PolicyConfig
from server.settings import ServerSettings
from server.state import State
from server.steering_api import api_router as steering_api

log = logging.getLogger("steerserve")
# in the order FastAPI matches and documents them (the OpenAPI schema lists the routes in this order)
ROUTERS = (admin.router, health.router, playground.router, metrics.router, models.router, steering_api.router,
           chat_completion.router, completion.router)


def build_app(settings: ServerSettings, engine: Engine | None = None, *, engine_factory=None,
              policy: PolicyConfig | None = None, on_load_error=None) -> FastAPI:
    """``engine``: a ready engine; or ``engine_factory``: a blocking callable run in the background once the server
    listens (``/health`` answers 503 ``loading`` until it returns; if it raises, ``on_load_error`` is called)."""
    cfg = policy or PolicyConfig()
    state = State(settings, cfg, engine)

    async def load() -> None:
        try:
            state.ready(await asyncio.to_thread(engine_factory))
            log.info("engine ready")
        except Exception as e:  # noqa: BLE001 — reported, then the server stops (cli exits non-zero)
            log.exception("the engine failed to load")
            state.load_error = e
            if on_load_error is not None:
                on_load_error(e)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.draining = False
        await state.alerts.start()
        loading = None
        if state.engine is None and engine_factory is not None:
            loading = asyncio.create_task(load())  # the server listens (and /health says 503) meanwhile
        yield
        state.draining = True
        if loading is not None and not loading.done():
            await asyncio.wait({loading})  # a half-built engine cannot be shut down: let it finish first
        if state.engine is not None:
            await state.engine.shutdown()
        await state.alerts.stop()

    app = FastAPI(title="steerserve", version="0.1.0", lifespan=lifespan)
    app.state.steer = state
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)

    public = {"/health"} | playground.PLAYGROUND_PATHS | ({"/metrics"} if cfg.server.metrics_public else set())
    app.add_middleware(AuthMiddleware, admin=cfg.keys.admin, inference=cfg.keys.inference, public=public,
                       on_denied=state.count_rejected)
    app.add_middleware(LimitsMiddleware, max_body_bytes=cfg.server.max_body_bytes, on_reject=state.count_rejected)
    app.add_middleware(MetricsMiddleware, metrics=state.metrics, routes=app.routes)
    return app
