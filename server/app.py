"""``build_app(settings, engine)``: the FastAPI application. Routes are thin; logic lives in serving.py,
steering_service.py and admin.py. Serving (uvicorn) is in cli.py."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from server import errors
from server.admin import router as admin_router
from server.engines.base import Engine
from server.errors import APIError
from server.middleware import AuthMiddleware, LimitsMiddleware, MetricsMiddleware
from server.packs_view import pack_view
from server.policy import PolicyConfig
from server.protocol import ChatCompletionRequest, CompletionRequest, now
from server.serving import (
    chat_logprobs,
    chat_response,
    completion_response,
    text_logprobs,
    until_disconnected,
)
from server.settings import ServerSettings
from server.state import State
from server.steering_service import MandatoryMonitorOff, RequestSteering, resolve_request
from steering.errors import UnknownFeature, UnknownFeaturePack
from steering.feature_map import FeatureMap

# The playground page (static files, no data in them): public, so a browser can open it before it has a key; every
# call it makes goes through the API with the key typed into the page.
PLAYGROUND_DIR = Path(__file__).parent / "playground"
PLAYGROUND_ASSETS = {"app.js": "text/javascript", "style.css": "text/css"}
PLAYGROUND_PATHS = {"/playground"} | {f"/playground/{a}" for a in PLAYGROUND_ASSETS}
log = logging.getLogger("steerserve")


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
    app.include_router(admin_router)

    @app.get("/health")
    async def health() -> JSONResponse:
        ok = state.engine is not None and state.engine.health() and not state.draining
        status = ("ok" if ok else "draining" if state.draining else "failed" if state.load_error is not None
                  else "loading" if state.engine is None else "dead")
        return JSONResponse({"status": status}, status_code=200 if ok else 503)

    @app.get("/playground", include_in_schema=False)
    async def playground() -> FileResponse:
        return FileResponse(PLAYGROUND_DIR / "index.html", media_type="text/html")

    @app.get("/playground/{asset}", include_in_schema=False)
    async def playground_asset(asset: str) -> FileResponse:
        if asset not in PLAYGROUND_ASSETS:
            raise APIError(f"no playground asset '{asset[:64]}'", status=404, code="not_found", type_="not_found_error")
        return FileResponse(PLAYGROUND_DIR / asset, media_type=PLAYGROUND_ASSETS[asset])

    @app.get("/metrics")
    async def metrics() -> Response:
        if state.engine is not None:
            state.metrics.batch_size.set(getattr(state.engine, "batch_size", 0))
            if hasattr(state.engine, "steering_state"):  # engines whose rows live in this process
                rows, tables = state.engine.steering_state()
                state.metrics.config_rows.set(rows)
                state.metrics.pack_tables.set(tables)
        if state.service is not None:
            state.metrics.in_flight.set(state.service.admission.in_flight)
        return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models")
    async def models() -> dict:
        info = state.require_ready().engine.model_info()
        return {"object": "list", "data": [{"id": info.id, "object": "model", "created": now(),
                                            "owned_by": "steerserve", "max_model_len": info.max_model_len}]}

    @app.get("/v1/steering/packs")
    async def list_packs() -> dict:
        rt = state.require_ready().engine.runtime
        return {"object": "list", "data": [pack_view(p) for p in rt.packs.values()]}

    @app.get("/v1/steering/packs/{pack_id}")
    async def get_pack(pack_id: str) -> dict:
        rt = state.require_ready().engine.runtime
        if pack_id not in rt.packs:
            raise UnknownFeaturePack(f"unknown feature pack '{pack_id[:64]}'", param="pack_id")
        return pack_view(rt.packs[pack_id], full=True)

    feature_maps: dict[int, tuple[object, FeatureMap]] = {}  # one per pack table (a reload builds a new table)

    def feature_map() -> FeatureMap:
        rt = state.require_ready().engine.runtime
        if id(rt) not in feature_maps or feature_maps[id(rt)][0] is not rt:
            feature_maps.clear()
            feature_maps[id(rt)] = (rt, FeatureMap.of(rt.packs.values()))
        return feature_maps[id(rt)][1]

    @app.get("/v1/steering/packs/{pack_id}/features/{feature}/neighbors")
    async def feature_neighbors(pack_id: str, feature: str, k: int = Query(10, ge=1, le=200),
                                same_layer: bool = False) -> dict:
        """Nearest features across all loaded packs by cosine similarity of decoder directions."""
        rt = state.require_ready().engine.runtime
        if pack_id not in rt.packs:
            raise UnknownFeaturePack(f"unknown feature pack '{pack_id[:64]}'", param="pack_id")
        if (pack_id, feature) not in rt.columns:
            raise UnknownFeature(f"pack '{pack_id}' has no feature '{feature[:64]}'", param="feature")
        return {"object": "list", "feature": f"{pack_id}/{feature}",
                "data": feature_map().neighbors((pack_id, feature), k=k, same_layer=same_layer)}

    @app.get("/v1/steering/map")
    async def features_map() -> dict:
        """Every loaded feature at 2-D coordinates (PCA of unit decoder directions), for a map view."""
        return {"object": "list", "data": feature_map().layout_2d()}

    def steering_of(request: Request, req, x_steering: str | None, x_profile: str | None) -> RequestSteering:
        svc = state.require_ready()
        if req.model_extra:  # accepted like the OpenAI API does, but visible to the operator
            log.info("ignoring unknown request fields: %s", ", ".join(sorted(req.model_extra))[:200])
        try:
            return resolve_request(svc.engine.runtime, state.policy, x_steering, x_profile, req.steering,
                                   key=request.scope.get("steerserve.key"),
                                   admin=bool(request.scope.get("steerserve.admin")))
        except MandatoryMonitorOff as e:
            key = request.scope.get("steerserve.key")
            svc.denied_mandatory(e.feature, getattr(key, "name", None))
            raise

    async def respond(request: Request, req, prompt_ids: list[int], steering: RequestSteering, build, chunk):
        svc = state.require_ready()
        if req.n > state.config.server.max_n:
            raise APIError(f"n must be at most {state.config.server.max_n}", param="n")
        if (req.max_tokens or 0) > state.config.server.max_tokens:
            raise APIError(f"max_tokens must be at most {state.config.server.max_tokens}", param="max_tokens")
        headers = {"X-Steering-Applied": steering.applied_header()} if steering.config else {}
        key = getattr(request.scope.get("steerserve.key"), "name", None)
        if req.stream:
            gen = await svc.stream(req, prompt_ids, steering, chunk, key_name=key)
            return StreamingResponse(gen, media_type="text/event-stream",
                                     headers={**headers, "Cache-Control": "no-cache"})
        rid, choices = await until_disconnected(request, svc.run(req, prompt_ids, steering, key_name=key))
        body = build(req.model, rid, choices, steering)
        alerts = body["steering"]["alerts"]
        if alerts:
            headers["X-Steering-Alerts"] = ", ".join(f"{a['feature']}:{a['action']}@{a['token_index']}" for a in alerts)
        return JSONResponse(body, headers=headers)

    @app.post("/v1/chat/completions")
    async def chat(request: Request, req: ChatCompletionRequest, x_steering: str | None = Header(None),
                   x_steering_profile: str | None = Header(None)):
        svc = state.require_ready()
        svc.check_model(req.model)
        steering = steering_of(request, req, x_steering, x_steering_profile)
        prompt_ids = svc.engine.tokenize_chat([{"role": m.role, "content": m.text()} for m in req.messages])
        created, cid = now(), f"chatcmpl-{id(req):x}"

        def chunk(i, d, finish, c, role=False, empty=False):
            delta = {"role": "assistant", "content": ""} if role else {} if empty else {"content": d.text}
            lps = chat_logprobs(d.logprobs) if d is not None and d.logprobs else None
            choices = [] if empty else [{"index": i, "delta": delta, "logprobs": lps, "finish_reason": finish}]
            return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": req.model,
                    "choices": choices}

        return await respond(request, req, prompt_ids, steering, chat_response, chunk)

    @app.post("/v1/completions")
    async def completions(request: Request, req: CompletionRequest, x_steering: str | None = Header(None),
                          x_steering_profile: str | None = Header(None)):
        svc = state.require_ready()
        svc.check_model(req.model)
        steering = steering_of(request, req, x_steering, x_steering_profile)
        prompt_ids = svc.prompt_ids(req.prompt)
        created, cid = now(), f"cmpl-{id(req):x}"

        def chunk(i, d, finish, c, role=False, empty=False):
            lps = text_logprobs(d.logprobs) if d is not None and d.logprobs else None
            choices = [] if empty else [{"index": i, "text": "" if role else d.text, "logprobs": lps,
                                         "finish_reason": finish}]
            return {"id": cid, "object": "text_completion", "created": created, "model": req.model,
                    "choices": choices}

        return await respond(request, req, prompt_ids, steering, completion_response, chunk)

    public = {"/health"} | PLAYGROUND_PATHS | ({"/metrics"} if cfg.server.metrics_public else set())
    app.add_middleware(AuthMiddleware, admin=cfg.keys.admin, inference=cfg.keys.inference, public=public,
                       on_denied=state.count_rejected)
    app.add_middleware(LimitsMiddleware, max_body_bytes=cfg.server.max_body_bytes, on_reject=state.count_rejected)
    app.add_middleware(MetricsMiddleware, metrics=state.metrics, routes=app.routes)
    return app
