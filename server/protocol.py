"""OpenAI wire models (requests and responses) plus the steerserve ``steering`` extension field."""

from __future__ import annotations

import math
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_STOP = 16


class _Open(BaseModel):
    """OpenAI request bodies: unknown top-level fields are accepted (and logged), as the OpenAI API does."""

    model_config = ConfigDict(extra="allow")


class SteeringFeature(BaseModel):
    model_config = ConfigDict(extra="forbid")
    feature: str = Field(max_length=129, description="'pack-id/feature' or a bare pack id")
    op: Literal["add", "clamp", "suppress", "monitor", "off"] | None = Field(
        default=None, description="omitted: each feature's default op and default value")
    value: float | str | None = None


class SteeringBody(BaseModel):
    """Body form of steering: ``{"profile": ..., "features": [...]}`` (or a string in the header grammar)."""

    model_config = ConfigDict(extra="forbid")
    profile: str | None = Field(default=None, max_length=64)
    features: list[SteeringFeature] = Field(default_factory=list, max_length=64)
    report: Literal["tokens"] | None = Field(default=None, description="'tokens': every token's readings of the "
                                             "monitored features in steering.tokens (n = 1 only)")


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    include_usage: bool = False


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text for p in self.content)
        return self.content or ""


class _Sampling(_Open):
    model: str = Field(max_length=256)
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    n: int = Field(default=1, ge=1, le=8)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)
    user: str | None = Field(default=None, max_length=256)
    steering: SteeringBody | str | None = None
    ignore_eos: bool = False  # vLLM's extension: keep generating past end-of-turn (benchmarks)

    @field_validator("temperature", "top_p")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v

    @field_validator("stop")
    @classmethod
    def _stops(cls, v: str | list[str] | None) -> list[str]:
        stops = [v] if isinstance(v, str) else list(v or [])
        if len(stops) > MAX_STOP:
            raise ValueError(f"at most {MAX_STOP} stop sequences")
        if any(not s or len(s) > 256 for s in stops):
            raise ValueError("stop sequences must be 1-256 characters")
        return stops


class ChatCompletionRequest(_Sampling):
    messages: list[ChatMessage] = Field(min_length=1, max_length=1024)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)


class CompletionRequest(_Sampling):
    prompt: str | list[str] | list[int]
    logprobs: int | None = Field(default=None, ge=0, le=5)
    echo: bool = False


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def now() -> int:
    return int(time.time())


def usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def error_body(message: str, type_: str, code: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}
