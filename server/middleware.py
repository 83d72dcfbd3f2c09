"""ASGI middleware: API keys, request-size limits. Pure ASGI (not BaseHTTPMiddleware) so streaming is untouched.

Auth is deny-by-default: when any key is configured, every path needs one except an explicit public list, so a
route added later is protected without anyone remembering to protect it. Admin routes are closed outright while no
admin key is configured: a server started without keys can be used, but not reconfigured, by whoever reaches it.
"""

from __future__ import annotations

import json

from server.policy import KeyConfig, match_key
from server.protocol import error_body

ADMIN_CLOSED = ("admin routes are closed: no admin key is configured (add one under keys.admin in the policy "
                "file given with --config; docs/architecture.md)")
MAX_HEADERS = 100
MAX_HEADER_BYTES = 16 * 1024


async def _send_error(send, status: int, message: str, code: str, type_: str, headers: list | None = None) -> None:
    body = json.dumps(error_body(message, type_, code)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class AuthMiddleware:
    """``Authorization: Bearer <key>``. Admin keys reach everything; inference keys everything but ``/admin/``.
    The matched key is put in ``scope["steerserve.key"]`` / ``scope["steerserve.admin"]``."""

    def __init__(self, app, *, admin: list[KeyConfig], inference: list[KeyConfig], public: set[str], on_denied=None):
        self.app, self.admin, self.inference, self.public = app, admin, inference, public
        self.on_denied = on_denied

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith("/admin/") and not self.admin:
            if self.on_denied:
                self.on_denied(scope["path"], 403)
            return await _send_error(send, 403, ADMIN_CLOSED, "admin_disabled", "permission_error")
        if scope["type"] != "http" or not (self.admin or self.inference) or scope["path"] in self.public:
            return await self.app(scope, receive, send)
        token = None
        for k, v in scope["headers"]:
            if k == b"authorization":
                scheme, _, token = v.decode("latin-1").partition(" ")
                token = token.strip() if scheme.lower() == "bearer" else None
        key = match_key(token, self.admin) if token else None
        is_admin = key is not None
        if key is None and token:
            key = match_key(token, self.inference)
        if key is None:
            if self.on_denied:
                self.on_denied(scope["path"], 401)
            return await _send_error(send, 401, "missing or invalid API key", "invalid_api_key",
                                     "authentication_error", [(b"www-authenticate", b"Bearer")])
        if scope["path"].startswith("/admin/") and not is_admin:
            if self.on_denied:
                self.on_denied(scope["path"], 403)
            return await _send_error(send, 403, "this API key may not use admin routes", "admin_key_required",
                                     "permission_error")
        scope["steerserve.key"], scope["steerserve.admin"] = key, is_admin
        return await self.app(scope, receive, send)


class MetricsMiddleware:
    """Counts every response by route template and status, including those refused by outer middleware. Paths
    that match no route share the label 'unmatched', so clients cannot create series."""

    def __init__(self, app, *, metrics, routes=None) -> None:
        self.app, self.metrics, self.routes = app, metrics, routes or []

    def _label(self, scope) -> str:
        route = scope.get("route")
        if route is None:  # refused before routing (auth, limits): find the route it was meant for
            from starlette.routing import Match

            route = next((r for r in self.routes if r.matches(scope)[0] == Match.FULL), None)
        return getattr(route, "path", "unmatched")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status = 500

        async def capture(msg):
            nonlocal status
            if msg["type"] == "http.response.start":
                status = msg["status"]
            await send(msg)

        try:
            await self.app(scope, receive, capture)
        finally:
            self.metrics.requests.labels(self._label(scope), str(status)).inc()


class LimitsMiddleware:
    """Body cap (Content-Length and chunked bodies alike) → 413; header count/size caps → 431."""

    def __init__(self, app, *, max_body_bytes: int, on_reject=None) -> None:
        self.app, self.max_body, self.on_reject = app, max_body_bytes, on_reject

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = scope["headers"]
        if len(headers) > MAX_HEADERS or sum(len(k) + len(v) for k, v in headers) > MAX_HEADER_BYTES:
            return await self._reject(scope, send, 431, "request headers are too large", "headers_too_large")
        length = next((v for k, v in headers if k == b"content-length"), None)
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return await self._reject(scope, send, 413, f"request body is over {self.max_body} bytes",
                                      "request_too_large")
        # read the whole body first (it is capped), so an oversized chunked body is refused before any handler
        # runs; then replay it, and pass later receive() calls (disconnects) straight through
        chunks, seen, more = [], 0, True
        while more:
            msg = await receive()
            if msg["type"] != "http.request":
                return  # client went away before sending its body
            chunks.append(msg.get("body", b""))
            seen += len(chunks[-1])
            more = msg.get("more_body", False)
            if seen > self.max_body:
                return await self._reject(scope, send, 413, f"request body is over {self.max_body} bytes",
                                          "request_too_large")
        replay = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def replay_receive():
            nonlocal replay
            if replay is not None:
                msg, replay = replay, None
                return msg
            return await receive()

        await self.app(scope, replay_receive, send)

    async def _reject(self, scope, send, status, message, code):
        if self.on_reject:
            self.on_reject(scope["path"], status)
        await _send_error(send, status, message, code, "invalid_request_error")
