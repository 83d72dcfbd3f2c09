"""A deterministic engine for API tests: no model, but the real steering runtime and monitors.

Tokens are characters of a fixed reply; each token's "hidden state" is a fixed pseudo-random vector of the
token id, pushed through the real fused op at every pack site, so monitors, alerts and ``block`` behave as on
a real engine. Steered requests (any add/clamp) answer a different reply, so tests can see that steering arrived.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import torch

from server.engines.base import Delta, GenerateRequest, ServedModel
from server.engines.sampling import Detokenizer
from steering.config import after_prompt, edited, prompt_only
from steering.monitor import AppliedCounter, RequestMonitor
from steering.pack import FeaturePack
from steering.runtime import SteeringRuntime

REPLY = "Hello from the fake engine. "
STEERED_REPLY = "Steered hello from the fake engine. "


class _CharTokenizer:
    """One token per character (the fake model's vocabulary)."""

    @staticmethod
    def decode(ids: list[int], skip_special_tokens: bool = True) -> str:
        return "".join(map(chr, ids))


class FakeEngine:
    def __init__(self, packs: list[FeaturePack] = (), *, d_model: int | None = None, delay: float = 0.0,
                 model_id: str = "fake-model", max_model_len: int = 2048) -> None:
        packs = list(packs)
        d = d_model or (packs[0].manifest.model.d_model if packs else 16)
        layers = max([layer for p in packs for layer in p.layers], default=0) + 1
        self.info = ServedModel(id=model_id, max_model_len=max_model_len, d_model=d, num_layers=layers,
                              architecture="FakeForCausalLM")
        self.pack_model = packs[0].manifest.model if packs else self.info.pack_model()
        self.runtime = SteeringRuntime(packs, d, max_slots=8)
        self.embed = torch.randn(256, d, generator=torch.Generator().manual_seed(0)) * 4  # [V, d]
        self.delay, self.batch_size, self.aborted = delay, 0, set()

    def model_info(self) -> ServedModel:
        return self.info

    def health(self) -> bool:
        return True

    def tokenize(self, text: str) -> list[int]:
        return list(text.encode()[: self.info.max_model_len + 10]) or [0]

    def token_texts(self, ids: list[int]) -> list[str]:
        return [bytes([i % 256]).decode("latin-1") for i in ids]

    def tokenize_chat(self, messages: list[dict]) -> list[int]:
        return self.tokenize("".join(f"<{m['role']}>{m['content']}" for m in messages))

    def _forward(self, ids: list[int], pos0: int, row: int, mon: RequestMonitor, applied: AppliedCounter,
                 phase: str, carry: dict):
        """One pass of one request; ``carry`` keeps its latches from pass to pass."""
        n, rt = len(ids), self.runtime
        end = torch.zeros(n, dtype=torch.bool)
        end[-1] = phase == "prompt"  # the prompt runs in one pass: its last token
        with rt.forward(torch.full((n,), row), torch.zeros(n, dtype=torch.long), torch.arange(pos0, pos0 + n),
                        keep_tokens=mon.trace is not None, prompt_end=end, latched=carry.get("latched")) as state:
            h = self.embed[torch.tensor(ids) % 256]
            for layer in rt.sites:
                h = rt.apply_site(layer, h)
        if state.latch is not None:
            carry["latched"] = state.latch.latched()[:1]
        applied.update(state.edits, 0)
        return mon.update(state.readouts, 0, phase)

    async def generate(self, req: GenerateRequest) -> AsyncIterator[Delta]:
        rt = self.runtime
        row = rt.rows.acquire(req.steering)
        mon = RequestMonitor.of(req.steering, rt.columns, trace=req.report_tokens)
        applied = AppliedCounter(req.steering, rt.columns)
        steered = bool(edited(req.steering))
        reply = (STEERED_REPLY if steered else REPLY) * 100
        self.batch_size += 1
        try:
            carry: dict = {}
            events = self._forward(req.prompt_ids, 0, row, mon, applied, "prompt", carry)
            config = req.steering
            if drop := prompt_only(config, rt.columns):  # generated tokens go without prompt-only features
                config = after_prompt(config, drop)
                row = rt.rows.switch(row, config)
                applied.set_config(config)
            n, p = 0, len(req.prompt_ids)
            detok = Detokenizer(_CharTokenizer(), req.sampling.stop)
            while True:
                if req.request_id in self.aborted:
                    return
                if any(e.feature in req.block_on for e in events):
                    yield Delta(events=events, finish_reason="content_filter", prompt_tokens=p, completion_tokens=n,
                                monitors=mon.summary(), positions=applied.as_dict(), token_readings=mon.tokens())
                    return
                for e in events:
                    if e.feature in req.steer_on:  # conditional steering from the firing token on
                        config = {**config, **req.steer_on[e.feature]}
                        row = rt.rows.switch(row, config)
                        applied.set_config(config)
                        reply = reply[:n] + STEERED_REPLY * 100
                ch = reply[n]
                n += 1
                out, hit_stop = detok.push(ord(ch))
                finish = "stop" if hit_stop else "length" if n >= req.sampling.max_tokens else None
                if finish == "length":
                    out += detok.flush()
                yield Delta(text=out, token_ids=[ord(ch)], events=events, finish_reason=finish, prompt_tokens=p,
                            completion_tokens=n, monitors=mon.summary() if finish else None,
                            positions=applied.as_dict() if finish else None,
                            token_readings=mon.tokens() if finish else None)
                if finish:
                    return
                events = self._forward([ord(ch)], p + n - 1, row, mon, applied, "completion", carry)
                if self.delay:
                    await asyncio.sleep(self.delay)
                else:
                    await asyncio.sleep(0)
        finally:
            self.batch_size -= 1
            rt.rows.release(row)

    def steering_state(self) -> tuple[int, int]:
        """(config rows held, pack tables alive); replaced tables are dropped at once here."""
        return self.runtime.rows.in_use(), 1

    def reload(self, packs: list[FeaturePack]) -> SteeringRuntime:
        """Swap tables; requests in flight keep the runtime object they captured."""
        self.runtime = SteeringRuntime(packs, self.info.d_model, max_slots=8)
        return self.runtime

    async def abort(self, request_id: str) -> None:
        self.aborted.add(request_id)

    async def shutdown(self) -> None:
        return None
