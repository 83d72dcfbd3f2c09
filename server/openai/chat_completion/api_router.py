"""``POST /v1/chat/completions``: validated by ``protocol.py``, served by ``serving.py``."""

from __future__ import annotations

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from server.openai.chat_completion.protocol import ChatCompletionRequest
from server.openai.chat_completion.serving import OpenAIServingChat

router = APIRouter()


@router.post("/v1/chat/completions")
async def chat(request: Request, req: ChatCompletionRequest, x_steering: str | None = Header(None),
               x_steering_profile: str | None = Header(None)) -> Response:
    return await OpenAIServingChat(request, req, x_steering, x_steering_profile).create()
