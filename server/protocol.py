"""Wire pieces every OpenAI route shares: the request base (sampling fields, the steerserve ``steering``
extension), the error envelope, ids and usage. Each resource's own request model is in its package's
``protocol.py`` (``server/openai/chat_completion/``, ``server/openai/completion/``), as in vLLM."""

from __future__ import annotations

import math
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from server.engines.base import SamplingParams

MAX_STOP = 16


class OpenAIBaseModel(BaseModel):
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


class SamplingRequest(OpenAIBaseModel):
    """The fields chat and text completions share; ``to_sampling_params`` turns them into the engine's."""

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

    @property
    def requested_max_tokens(self) -> int | None:
        return self.max_tokens

    def logprobs_asked(self) -> tuple[bool, int]:
        """(return logprobs, how many top alternatives per token): each resource reads its own fields."""
        raise NotImplementedError

    def to_sampling_params(self, max_tokens: int, choice: int) -> SamplingParams:
        """The engine's sampling parameters for choice ``choice`` (its seed is the request's plus the index)."""
        want_lp, top = self.logprobs_asked()
        seed = None if self.seed is None else self.seed + choice
        return SamplingParams(max_tokens=max_tokens, temperature=self.temperature, top_p=self.top_p, seed=seed,
                              stop=tuple(self.stop or ()), logprobs=want_lp, top_logprobs=top,
                              ignore_eos=self.ignore_eos)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def now() -> int:
    return int(time.time())


def usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def error_body(message: str, type_: str, code: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}
