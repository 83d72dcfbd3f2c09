"""One exception family for everything a caller can get wrong.

Each error carries an OpenAI-style string ``code``, the ``param`` it concerns (or None) and the HTTP status the
server maps it to. Messages are written for the client: they never contain file-system paths, tracebacks or
memory addresses. ``server/`` turns these into the OpenAI error envelope in exactly one place.
"""

from __future__ import annotations


class SteeringError(Exception):
    """Base class: a client-visible fault with a stable string code."""

    status: int = 400
    code: str = "invalid_request_error"
    type: str = "invalid_request_error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code


class InvalidSteeringSpec(SteeringError):
    code = "invalid_steering_spec"


class UnknownFeaturePack(SteeringError):
    status = 404
    code = "unknown_feature_pack"
    type = "not_found_error"


class UnknownFeature(SteeringError):
    code = "unknown_feature"


class ValueOutOfRange(SteeringError):
    code = "steering_value_out_of_range"


class NotPermitted(SteeringError):
    status = 403
    code = "steering_not_permitted"
    type = "permission_error"


class PackModelMismatch(SteeringError):
    code = "pack_model_mismatch"


class PackError(SteeringError):
    """A pack file or directory failed a load-time check (catalogue J, docs/reliability.md). ``reason`` is a short
    machine tag."""

    code = "invalid_feature_pack"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class CapacityExceeded(SteeringError):
    """No free config row or slot: the server answers 429 with Retry-After."""

    status = 429
    code = "steering_capacity_exceeded"
    type = "rate_limit_error"
