"""Chat completions: the prompt from the messages (the model's chat template), then the two shapes of the reply
side by side — a stream chunk (``chat.completion.chunk``) and a choice of the final body (``chat.completion``)."""

from __future__ import annotations

from server.generation import Choice
from server.openai.serving import OpenAIServing


class OpenAIServingChat(OpenAIServing):
    object, chunk_object, id_prefix = "chat.completion", "chat.completion.chunk", "chatcmpl-"

    def prompt_ids(self) -> list[int]:
        return self.service.engine.tokenize_chat([{"role": m.role, "content": m.text()} for m in self.req.messages])

    def chunk(self, i: int, d, finish: str | None, c: Choice, role: bool = False, empty: bool = False) -> dict:
        delta = {"role": "assistant", "content": ""} if role else {} if empty else {"content": d.text}
        lps = chat_logprobs(d.logprobs) if d is not None and d.logprobs else None
        return self.chunk_body([] if empty else [{"index": i, "delta": delta, "logprobs": lps, "finish_reason": finish}])

    def choice(self, c: Choice) -> dict:
        return {"index": c.index, "message": {"role": "assistant", "content": c.text},
                "logprobs": chat_logprobs(c.logprobs) if c.logprobs else None, "finish_reason": c.finish_reason}


def chat_logprobs(lps: list) -> dict:
    return {"content": [{"token": lp.token, "logprob": lp.logprob, "bytes": list(lp.token.encode()),
                         "top_logprobs": [{"token": t, "logprob": v, "bytes": list(t.encode())} for t, v in lp.top]}
                        for lp in lps]}
