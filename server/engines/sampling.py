"""Token sampling and incremental detokenisation shared by the engines (pure torch + tokenizer)."""

from __future__ import annotations

import torch

from server.engines.base import SamplingParams, TokenLogprob


def sample(logits: torch.Tensor, sp: SamplingParams, gen: torch.Generator | None) -> int:
    """``logits [V]`` → token id. Temperature 0 is greedy; otherwise temperature, then nucleus (top-p)."""
    if sp.temperature == 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits.float() / sp.temperature, dim=-1)  # [V]
    if sp.top_p < 1.0:
        sorted_p, order = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_p, 0) - sorted_p < sp.top_p  # always keeps the first token
        probs = torch.zeros_like(probs).scatter_(0, order[keep], sorted_p[keep])
    return int(torch.multinomial(probs, 1, generator=gen))


def token_logprob(logits: torch.Tensor, token: int, top: int, decode) -> TokenLogprob:
    """OpenAI-style logprob of the chosen token under the model's (untempered) distribution, plus the top-k."""
    logp = torch.log_softmax(logits.float(), dim=-1)  # [V]
    tops = []
    if top:
        v, i = torch.topk(logp, top)
        tops = [(decode(int(t)), float(x)) for x, t in zip(v, i, strict=True)]
    return TokenLogprob(decode(token), float(logp[token]), tops)


class Detokenizer:
    """Turns a growing list of token ids into text deltas, holding back text that may still become a stop
    sequence or is an incomplete UTF-8 character.

    Incremental: each token decodes only a short window (the tokens since the last emitted text, plus the ones
    before them for context: vLLM's and TGI's prefix/read offsets), so a reply costs O(n) decoding, not O(n²)."""

    def __init__(self, tokenizer, stop: tuple[str, ...]) -> None:
        self.tok, self.stop = tokenizer, stop
        self.ids: list[int] = []
        self.prefix_offset = self.read_offset = 0  # ids[prefix:read] gave text already; ids[read:] not yet
        self.sent = 0  # characters already emitted
        self.text = ""
        self.stopped = False

    def _decode(self, ids: list[int]) -> str:
        return self.tok.decode(ids, skip_special_tokens=True)

    def push(self, token: int) -> tuple[str, bool]:
        """Add a token; return (new text to emit, whether a stop sequence was hit)."""
        self.ids.append(token)
        before = self._decode(self.ids[self.prefix_offset: self.read_offset])
        window = self._decode(self.ids[self.prefix_offset:])
        if len(window) > len(before) and not window.endswith("\ufffd"):  # else: wait for the rest of a character
            self.text += window[len(before):]
            self.prefix_offset, self.read_offset = self.read_offset, len(self.ids)
        for s in self.stop:
            i = self.text.find(s, max(0, self.sent - len(s)))
            if i != -1:
                self.text, self.stopped = self.text[:i], True
                return self._take(len(self.text)), True
        end = len(self.text)
        for s in self.stop:  # hold back a tail that is a prefix of a stop sequence
            for k in range(min(len(s) - 1, end - self.sent), 0, -1):
                if self.text[end - k : end] == s[:k]:
                    end -= k
                    break
        return self._take(end), False

    def flush(self) -> str:
        """The held-back rest at the end of the reply (an incomplete character at the very end is dropped)."""
        if not self.stopped and self.read_offset < len(self.ids):
            before = self._decode(self.ids[self.prefix_offset: self.read_offset])
            self.text += self._decode(self.ids[self.prefix_offset:])[len(before):].rstrip("\ufffd")
            self.prefix_offset = self.read_offset = len(self.ids)
        return self._take(len(self.text))

    def _take(self, end: int) -> str:
        if end <= self.sent:
            return ""
        out, self.sent = self.text[self.sent : end], end
        return out
