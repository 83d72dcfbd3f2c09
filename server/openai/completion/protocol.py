"""The text completion request (OpenAI wire model; shared fields in ``server/protocol.py``)."""

from __future__ import annotations

from pydantic import Field

from server.protocol import SamplingRequest


class CompletionRequest(SamplingRequest):
    prompt: str | list[str] | list[int]
    logprobs: int | None = Field(default=None, ge=0, le=5)
    echo: bool = False

    def logprobs_asked(self) -> tuple[bool, int]:
        return self.logprobs is not None, self.logprobs or 0
