"""The one place errors become OpenAI envelopes. Route handlers raise; they never build error JSON."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from server.protocol import error_body
from steering.errors import SteeringError

log = logging.getLogger("steerserve.errors")


class APIError(SteeringError):
    """A server-side client fault that is not about steering (bad model, context length, limits)."""

    def __init__(self, message: str, *, status: int = 400, code: str = "invalid_request_error",
                 param: str | None = None, type_: str = "invalid_request_error", headers: dict | None = None) -> None:
        super().__init__(message, param=param, code=code)
        self.status, self.type, self.headers = status, type_, headers


def _status_type(status: int) -> str:
    return {401: "authentication_error", 403: "permission_error", 404: "not_found_error", 413: "invalid_request_error",
            429: "rate_limit_error"}.get(status, "invalid_request_error" if status < 500 else "server_error")


def error_response(status: int, message: str, code: str, param: str | None = None, type_: str | None = None,
                   headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error_body(message, type_ or _status_type(status), code, param), status_code=status,
                        headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    err = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    loc = [str(p) for p in err.get("loc", ()) if p != "body"]
    # drop pydantic's union-branch names (e.g. 'SteeringBody', 'str') so param reads like a JSON path
    loc = [p for p in loc if not p[:1].isupper() and p not in ("str", "int", "float", "list[str]", "list[int]")]
    param = ".".join(loc) or None
    msg = str(err.get("msg", "invalid request"))
    if err.get("type") == "json_invalid":
        return "request body is not valid JSON", None
    if err.get("type") == "extra_forbidden":
        msg = "unknown field"
    return (f"{param}: {msg}" if param else msg), param


def install(app: FastAPI) -> None:
    @app.exception_handler(SteeringError)
    async def _steering(request: Request, exc: SteeringError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.code, exc.param, getattr(exc, "type", None),
                              getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(exc)
        code = "invalid_steering_spec" if param and param.startswith("steering") else "invalid_request_error"
        return error_response(400, message[:500], code, param)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "invalid_request_error")
        return error_response(exc.status_code, str(exc.detail)[:200], code)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return error_response(500, "internal server error", "internal_error", type_="server_error")
