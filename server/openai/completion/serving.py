"""Text completions: the prompt as text or token ids, then the two shapes of the reply side by side — a stream
chunk and a choice of the final body (both ``text_completion``)."""

from __future__ import annotations

from server.errors import APIError
from server.generation import Choice
from server.openai.serving import OpenAIServing


class OpenAIServingCompletion(OpenAIServing):
    object, chunk_object, id_prefix = "text_completion", "text_completion", "cmpl-"

    def prompt_ids(self) -> list[int]:
        p, engine = self.req.prompt, self.service.engine
        if isinstance(p, list) and p and isinstance(p[0], str):
            if len(p) != 1:
                raise APIError("only one prompt per request is supported", param="prompt")
            p = p[0]
        ids = engine.tokenize(p) if isinstance(p, str) else list(p)
        if not ids:
            raise APIError("prompt must not be empty", param="prompt")
        vocab = getattr(engine.model_info(), "vocab_size", None)
        if vocab and any(t < 0 or t >= vocab for t in ids):
            raise APIError("prompt token ids must be in the vocabulary", param="prompt")
        return ids

    def chunk(self, i: int, d, finish: str | None, c: Choice, role: bool = False, empty: bool = False) -> dict:
        lps = text_logprobs(d.logprobs) if d is not None and d.logprobs else None
        return self.chunk_body([] if empty else [{"index": i, "text": "" if role else d.text, "logprobs": lps,
                                                  "finish_reason": finish}])

    def choice(self, c: Choice) -> dict:
        return {"index": c.index, "text": c.text, "logprobs": text_logprobs(c.logprobs) if c.logprobs else None,
                "finish_reason": c.finish_reason}


def text_logprobs(lps: list) -> dict:
    return {"tokens": [lp.token for lp in lps], "token_logprobs": [lp.logprob for lp in lps],
            "top_logprobs": [dict(lp.top) for lp in lps], "text_offset": []}
