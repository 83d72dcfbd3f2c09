"""``POST /v1/completions``: validated by ``protocol.py``, served by ``serving.py``."""

from __future__ import annotations

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from server.openai.completion.protocol import CompletionRequest
from server.openai.completion.serving import OpenAIServingCompletion

router = APIRouter()


@router.post("/v1/completions")
async def completions(request: Request, req: CompletionRequest, x_steering: str | None = Header(None),
                      x_steering_profile: str | None = Header(None)) -> Response:
    return await OpenAIServingCompletion(request, req, x_steering, x_steering_profile).create()
