"""``build_app(settings, engine)``: the FastAPI application (routes, error mapping, metrics). Serving is in cli.py."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from server import errors
from server.engines.base import Engine
from server.errors import APIError
from server.metrics import Metrics
from server.packs_view import pack_view
from server.protocol import ChatCompletionRequest, CompletionRequest, now
from server.serving import Service, chat_response, completion_response
from server.settings import ServerSettings
from server.steering_service import Policy, RequestSteering, resolve_request

log = logging.getLogger("steerserve")


class State:
    def __init__(self, settings: ServerSettings, engine: Engine | None, policy: Policy) -> None:
        self.settings, self.engine, self.policy = settings, engine, policy
        self.metrics = Metrics()
        self.service: Service | None = None
        if engine is not None:
            self.ready(engine)

    def ready(self, engine: Engine) -> None:
        self.engine = engine
        self.service = Service(engine, self.metrics, self.settings.max_tokens_default)

    def require(self) -> Service:
        if self.service is None:
            raise APIError("the model is still loading", status=503, code="model_loading", type_="server_error",
                           headers={"Retry-After": "5"})
        return self.service


def build_app(settings: ServerSettings, engine: Engine | None = None, *, engine_factory=None,
              policy: Policy | None = None) -> FastAPI:
    """``engine``: a ready engine; or ``engine_factory``: a blocking callable run at start-up (``/health`` is 503
    until it returns)."""
    state = State(settings, engine, policy or Policy(max_x=settings.max_x))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if state.engine is None and engine_factory is not None:
            state.ready(await asyncio.to_thread(engine_factory))
        yield
        if state.engine is not None:
            await state.engine.shutdown()

    app = FastAPI(title="steerserve", version="0.1.0", lifespan=lifespan)
    app.state.steer = state
    errors.install(app)

    @app.middleware("http")
    async def count_requests(request: Request, call_next):
        response = await call_next(request)
        route = request.scope.get("route")
        state.metrics.requests.labels(getattr(route, "path", "unmatched"), str(response.status_code)).inc()
        return response

    @app.get("/health")
    async def health() -> JSONResponse:
        ok = state.engine is not None and state.engine.health()
        return JSONResponse({"status": "ok" if ok else "loading"}, status_code=200 if ok else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        if state.engine is not None:
            state.metrics.batch_size.set(getattr(state.engine, "batch_size", 0))
        return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models")
    async def models() -> dict:
        info = state.require().engine.model_info()
        return {"object": "list", "data": [{"id": info.id, "object": "model", "created": now(),
                                            "owned_by": "steerserve", "max_model_len": info.max_model_len}]}

    @app.get("/v1/steering/packs")
    async def list_packs() -> dict:
        rt = state.require().engine.runtime
        return {"object": "list", "data": [pack_view(p) for p in rt.packs.values()]}

    @app.get("/v1/steering/packs/{pack_id}")
    async def get_pack(pack_id: str) -> dict:
        rt = state.require().engine.runtime
        if pack_id not in rt.packs:
            from steering.errors import UnknownFeaturePack

            raise UnknownFeaturePack(f"unknown feature pack '{pack_id[:64]}'", param="pack_id")
        return pack_view(rt.packs[pack_id], full=True)

    def steering_of(req, x_steering: str | None, x_profile: str | None) -> RequestSteering:
        return resolve_request(state.require().engine.runtime, state.policy, x_steering, x_profile, req.steering)

    async def respond(req, prompt_ids: list[int], steering: RequestSteering, build, chunk):
        svc = state.require()
        headers = {"X-Steering-Applied": steering.applied_header()} if steering.config else {}
        if req.stream:
            return StreamingResponse(svc.stream(req, prompt_ids, steering, chunk), media_type="text/event-stream",
                                     headers={**headers, "Cache-Control": "no-cache"})
        rid, choices = await svc.run(req, prompt_ids, steering)
        body = build(req.model, rid, choices, steering)
        alerts = body["steering"]["alerts"]
        if alerts:
            headers["X-Steering-Alerts"] = ", ".join(f"{a['feature']}:{a['action']}@{a['token_index']}" for a in alerts)
        return JSONResponse(body, headers=headers)

    @app.post("/v1/chat/completions")
    async def chat(req: ChatCompletionRequest, x_steering: str | None = Header(None),
                   x_steering_profile: str | None = Header(None)):
        svc = state.require()
        svc.check_model(req.model)
        steering = steering_of(req, x_steering, x_steering_profile)
        prompt_ids = svc.engine.tokenize_chat([{"role": m.role, "content": m.text()} for m in req.messages])
        created, cid = now(), f"chatcmpl-{id(req):x}"

        def chunk(i, d, finish, c, role=False, empty=False):
            delta = {"role": "assistant", "content": ""} if role else {} if empty else {"content": d.text}
            choices = [] if empty else [{"index": i, "delta": delta, "logprobs": None, "finish_reason": finish}]
            return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": req.model,
                    "choices": choices}

        return await respond(req, prompt_ids, steering, chat_response, chunk)

    @app.post("/v1/completions")
    async def completions(req: CompletionRequest, x_steering: str | None = Header(None),
                          x_steering_profile: str | None = Header(None)):
        svc = state.require()
        svc.check_model(req.model)
        steering = steering_of(req, x_steering, x_steering_profile)
        p = req.prompt
        if isinstance(p, list) and p and isinstance(p[0], str):
            if len(p) != 1:
                raise APIError("only one prompt per request is supported", param="prompt")
            p = p[0]
        prompt_ids = svc.engine.tokenize(p) if isinstance(p, str) else list(p)
        if not prompt_ids:
            raise APIError("prompt must not be empty", param="prompt")
        vocab = getattr(svc.engine.model_info(), "vocab_size", None)
        if vocab and any(t < 0 or t >= vocab for t in prompt_ids):
            raise APIError("prompt token ids must be in the vocabulary", param="prompt")
        created, cid = now(), f"cmpl-{id(req):x}"

        def chunk(i, d, finish, c, role=False, empty=False):
            choices = [] if empty else [{"index": i, "text": "" if role else d.text, "logprobs": None,
                                         "finish_reason": finish}]
            return {"id": cid, "object": "text_completion", "created": created, "model": req.model,
                    "choices": choices}

        return await respond(req, prompt_ids, steering, completion_response, chunk)

    return app
