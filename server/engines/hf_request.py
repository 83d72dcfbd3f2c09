"""One request inside the HF engine (:class:`Sequence`): its config row, monitor and receipt, detokenizer and the
delta it is building, and the per-token decision (block, switch to a steered config, sample, stop). The engine's
worker thread owns every :class:`Sequence`; results reach the asyncio side through ``out``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from server.engines.base import Delta, GenerateRequest
from server.engines.sampling import Detokenizer, sample, token_logprob
from steering.errors import SteeringError
from steering.monitor import AppliedCounter, RequestMonitor
from steering.runtime import BatchState, SteeringRuntime

log = logging.getLogger("steerserve.engine.hf")


@dataclass
class Sequence:
    req: GenerateRequest
    loop: asyncio.AbstractEventLoop
    out: asyncio.Queue
    row: int
    monitor: RequestMonitor
    applied: AppliedCounter
    detok: Detokenizer
    gen: torch.Generator | None
    rt: SteeringRuntime
    prompt_only: frozenset = frozenset()  # features edited on the prompt only: dropped from the config after prefill
    length: int = 0  # tokens in the KV cache
    last_token: int = -1
    n_out: int = 0
    aborted: bool = False
    done: bool = False
    pending: Delta = field(default_factory=Delta)
    latched: torch.Tensor | None = None  # [G] latches of rt's conditional packs closed so far (carried pass to pass)

    def emit(self, delta: Delta) -> None:
        self.loop.call_soon_threadsafe(self.out.put_nowait, delta)

    def flush(self) -> None:
        """Send what the pending delta holds (with the running token counts)."""
        d, self.pending = self.pending, Delta()
        d.prompt_tokens, d.completion_tokens = len(self.req.prompt_ids), self.n_out
        self.emit(d)

    def absorb(self, state: BatchState, j: int, phase: str) -> None:
        """Fold one forward pass's monitor readouts and edit receipts for this request (slot ``j``) in."""
        self.pending.events += self.monitor.update(state.readouts, j, phase)
        self.applied.update(state.edits, j)

    def switch(self, config: dict) -> None:
        """From the next forward on, this request runs with ``config`` (conditional steering, end of the prompt)."""
        try:
            self.row = self.rt.rows.switch(self.row, config)
        except SteeringError:
            log.warning("no free config row to switch %s to; continuing unchanged", self.req.request_id)
            return
        self.req.steering = config
        self.applied.set_config(config)

    def next_token(self, logits: torch.Tensor, eos_ids: set[int], max_model_len: int,
                   token_text: Callable[[int], str]) -> str | None:
        """Act on the monitor events of the last pass, sample from ``logits [V]`` and stream the token; returns the
        finish reason, or None when the request goes on."""
        sp = self.req.sampling
        if self.aborted:
            return "abort"
        if any(e.feature in self.req.block_on for e in self.pending.events):
            return "content_filter"
        for e in self.pending.events:
            if e.feature in self.req.steer_on:  # conditional steering: from now on, the config plus the extra
                self.switch({**self.req.steering, **self.req.steer_on[e.feature]})
        tok = sample(logits, sp, self.gen)
        if tok in eos_ids and not sp.ignore_eos:
            return "stop"
        d = self.pending
        d.token_ids.append(tok)
        if sp.logprobs:
            d.logprobs.append(token_logprob(logits, tok, sp.top_logprobs, token_text))
        text, hit_stop = self.detok.push(tok)
        d.text += text
        self.n_out += 1
        self.last_token = tok
        if hit_stop:
            return "stop"
        if self.n_out >= sp.max_tokens or self.length + 1 >= max_model_len:
            return "length"
        self.flush()
        return None
