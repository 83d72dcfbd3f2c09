"""What chat and text completions share between the route and the engine: the request's steering from its
headers and body (``server/steering_service.py``), the server's limits, then a JSON body or an SSE stream.

A resource subclasses :class:`OpenAIServing` (``server/openai/<resource>/serving.py``, vLLM's
``OpenAIServingChat`` / ``OpenAIServingCompletion``) and supplies its prompt, its stream chunk and its final choice.
"""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from server.errors import APIError
from server.generation import Choice, choices_steering, total_usage, until_disconnected
from server.protocol import SamplingRequest, now
from server.steering_service import MandatoryMonitorOff, RequestSteering, resolve_request

log = logging.getLogger("steerserve")


class OpenAIServing:
    object: str  # the final body's "object", e.g. "chat.completion"
    chunk_object: str  # a stream chunk's "object"
    id_prefix: str  # "chatcmpl-", "cmpl-"

    def __init__(self, request: Request, req: SamplingRequest, x_steering: str | None,
                 x_steering_profile: str | None) -> None:
        self.request, self.req = request, req
        self.state = request.app.state.steer
        self.service = self.state.require_ready()
        self.service.check_model(req.model)
        self.steering = self._resolve_steering(x_steering, x_steering_profile)
        self.created, self.chunk_id = now(), f"{self.id_prefix}{id(req):x}"

    # -- what each resource supplies ------------------------------------------------------------------------------
    def prompt_ids(self) -> list[int]:
        raise NotImplementedError

    def chunk(self, i: int, d, finish: str | None, c: Choice, role: bool = False, empty: bool = False) -> dict:
        """One stream chunk: choice ``i``'s delta ``d`` (``role``: the opening chunk; ``empty``: the closing one,
        which carries ``steering`` and ``usage``)."""
        raise NotImplementedError

    def choice(self, c: Choice) -> dict:
        """One choice of the non-streaming body."""
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------------------------------------
    def chunk_body(self, choices: list[dict]) -> dict:
        return {"id": self.chunk_id, "object": self.chunk_object, "created": self.created, "model": self.req.model,
                "choices": choices}

    def response(self, rid: str, choices: list[Choice]) -> dict:
        """The non-streaming body: OpenAI's fields plus ``steering``."""
        return {"id": rid.replace("req-", self.id_prefix), "object": self.object, "created": now(),
                "model": self.req.model, "choices": [self.choice(c) for c in choices], "usage": total_usage(choices),
                "steering": choices_steering(self.steering, choices)}

    def _resolve_steering(self, x_steering: str | None, x_steering_profile: str | None) -> RequestSteering:
        req, scope = self.req, self.request.scope
        if req.model_extra:  # accepted like the OpenAI API does, but visible to the operator
            log.info("ignoring unknown request fields: %s", ", ".join(sorted(req.model_extra))[:200])
        try:
            return resolve_request(self.service.engine.runtime, self.state.policy, x_steering, x_steering_profile,
                                   req.steering, key=scope.get("steerserve.key"),
                                   admin=bool(scope.get("steerserve.admin")))
        except MandatoryMonitorOff as e:
            self.service.denied_mandatory(e.feature, getattr(scope.get("steerserve.key"), "name", None))
            raise

    async def create(self) -> Response:
        """Run the request: an SSE stream when ``stream`` is true, else one JSON body once every choice is done."""
        req, steering, limits = self.req, self.steering, self.state.config.server
        prompt_ids = self.prompt_ids()
        svc = self.state.require_ready()  # again: the server may have begun draining meanwhile
        if req.n > limits.max_n:
            raise APIError(f"n must be at most {limits.max_n}", param="n")
        if (req.max_tokens or 0) > limits.max_tokens:
            raise APIError(f"max_tokens must be at most {limits.max_tokens}", param="max_tokens")
        headers = {"X-Steering-Applied": steering.applied_header()} if steering.config else {}
        key = getattr(self.request.scope.get("steerserve.key"), "name", None)
        if req.stream:
            gen = await svc.stream(req, prompt_ids, steering, self.chunk, key_name=key)
            return StreamingResponse(gen, media_type="text/event-stream",
                                     headers={**headers, "Cache-Control": "no-cache"})
        rid, choices = await until_disconnected(self.request, svc.run(req, prompt_ids, steering, key_name=key))
        body = self.response(rid, choices)
        alerts = body["steering"]["alerts"]
        if alerts:
            headers["X-Steering-Alerts"] = ", ".join(f"{a['feature']}:{a['action']}@{a['token_index']}" for a in alerts)
        return JSONResponse(body, headers=headers)
