"""The Engine protocol: what the API layer needs from an inference engine, and the values that cross the seam."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from steering.config import ResolvedConfig
from steering.monitor import MonitorEvent
from steering.pack import FeaturePack
from steering.pack import ModelInfo as PackModelInfo
from steering.runtime import SteeringRuntime


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    logprobs: bool = False
    top_logprobs: int = 0
    ignore_eos: bool = False  # keep generating past end-of-turn (benchmarks, batch-shape-stable tests)


@dataclass
class GenerateRequest:
    request_id: str
    prompt_ids: list[int]
    sampling: SamplingParams
    steering: ResolvedConfig = field(default_factory=dict)
    block_on: frozenset = frozenset()  # monitored features whose firing ends the request (content_filter)
    steer_on: dict = field(default_factory=dict)  # feature → config merged in from the token where it fires
    report_tokens: bool = False  # keep every token's monitor readings (Delta.token_readings on the last delta)


@dataclass
class TokenLogprob:
    token: str
    logprob: float
    top: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class Delta:
    """One increment of a request's output. ``finish_reason`` is set on the last one (then ``monitors`` is the
    request's full monitor summary and ``positions`` its receipt: token positions the op edited, per feature)."""

    text: str = ""
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[TokenLogprob] = field(default_factory=list)
    events: list[MonitorEvent] = field(default_factory=list)
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    monitors: dict[str, dict] | None = None
    positions: dict[str, int] | None = None
    token_readings: dict[str, dict[int, float]] | None = None  # "pack/feature" → {token index: reading}, if asked


@dataclass(frozen=True)
class ServedModel:
    """What the server serves (``GET /v1/models``): its id and context length, and the shape packs must match."""

    id: str
    max_model_len: int
    d_model: int
    num_layers: int
    architecture: str

    def pack_model(self) -> PackModelInfo:
        """The same model as packs name it (``pack.json`` ``model``)."""
        return PackModelInfo(name=self.id, architecture=self.architecture, d_model=self.d_model,
                             num_layers=self.num_layers)


class Engine(Protocol):
    runtime: SteeringRuntime  # the current table; new requests take their config rows from it
    pack_model: PackModelInfo  # what packs must have been built for

    def reload(self, packs: list[FeaturePack]) -> SteeringRuntime: ...

    def model_info(self) -> ServedModel: ...

    def health(self) -> bool: ...

    def tokenize_chat(self, messages: list[dict]) -> list[int]: ...

    def tokenize(self, text: str) -> list[int]: ...

    def generate(self, request: GenerateRequest) -> AsyncIterator[Delta]: ...

    async def abort(self, request_id: str) -> None: ...

    async def shutdown(self) -> None: ...
