"""The embedded engine: a transformers model with step-level continuous batching and the steering hooks.

One worker thread owns the model. Each loop iteration admits waiting requests (prefilled together in one
left-padded forward, up to a token budget; their KV caches then join the running batch) and runs one decode step
for every running request together, each token carrying its request's config row. So a burst of arrivals costs one
prefill, not one per request, and waits at most one decode step. Results go back to the asyncio side through
per-request queues.
Why not transformers' own continuous batching: see docs/decisions.md.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator
from contextlib import ExitStack
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache

from server.engines.base import Delta, GenerateRequest, ServedModel
from server.engines.hf_request import Sequence
from server.engines.kv import PaddedBatch, cache_tensors
from server.engines.sampling import Detokenizer
from server.engines.tables import LiveTables
from steering.config import after_prompt, prompt_only
from steering.monitor import AppliedCounter, RequestMonitor
from steering.pack import FeaturePack
from steering.runtime import BatchState, SteeringRuntime

log = logging.getLogger("steerserve.engine.hf")


class _ForwardFailed(Exception):
    """The model's forward (hooks included) raised; no request state was changed."""


class HFEngine:
    """``HFEngine(path, packs)``: load the model, attach the steering hooks for the engine's lifetime."""

    def __init__(
        self,
        model_path: str | Path,
        packs: list[FeaturePack],
        *,
        model_id: str | None = None,
        dtype: torch.dtype = torch.float32,
        max_num_seqs: int = 32,
        max_configs: int = 64,
        max_prefill_tokens: int = 1024,
    ) -> None:
        """``max_prefill_tokens``: the padded size (requests × longest prompt) of one batched prefill; a longer
        prompt is prefilled alone."""
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype).eval()
        cfg = self.model.config
        self.info = ServedModel(
            id=model_id or Path(model_path).name,
            max_model_len=int(getattr(cfg, "max_position_embeddings", 2048)),
            d_model=cfg.hidden_size,
            num_layers=cfg.num_hidden_layers,
            architecture=(cfg.architectures or [type(self.model).__name__])[0],
        )
        eos = self.model.generation_config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos]) | {self.tokenizer.eos_token_id}
        self.max_num_seqs, self.max_configs, self.max_prefill_tokens = max_num_seqs, max_configs, max_prefill_tokens
        self.pack_model = self.info.pack_model()
        self._live = LiveTables(self.model, self.info.d_model, max_configs=max_configs, max_slots=max_num_seqs)
        self._lock = threading.Lock()  # held by the worker for a whole step, and by reload() while adding hooks
        self._live.add(packs)
        self._waiting: deque[Sequence] = deque()  # FIFO: admission order is submission order (deterministic batches)
        self._cv = threading.Condition()
        self._active: list[Sequence] = []
        self._by_id: dict[str, Sequence] = {}
        self._batch = PaddedBatch()
        self._stop = threading.Event()
        self.batch_size = 0
        self._thread = threading.Thread(target=self._run, name="hf-engine", daemon=True)
        self._thread.start()

    @property
    def runtime(self) -> SteeringRuntime:  # the current steering table: new requests start on it
        return self._live.current

    def reload(self, packs: list[FeaturePack]) -> SteeringRuntime:
        """Atomic swap: new requests use the new table; requests in flight finish on the one they started with."""
        with self._lock:
            rt = self._live.add(packs)
            self._live.retire()
        return rt

    # -- Engine protocol ---------------------------------------------------------------------------------------
    def model_info(self) -> ServedModel:
        return self.info

    def health(self) -> bool:
        return self._thread.is_alive()

    def steering_state(self) -> tuple[int, int]:
        """(config rows held, pack tables alive): (0, 1) whenever the engine is idle."""
        return self._live.state()

    def tokenize_chat(self, messages: list[dict]) -> list[int]:
        text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return self.tokenize(text)

    def tokenize(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def token_texts(self, ids: list[int]) -> list[str]:
        """Each token's own text (per-token reports)."""
        return [self._token_text(i) for i in ids]

    def _token_text(self, tok: int) -> str:
        return self.tokenizer.decode([tok])

    async def generate(self, req: GenerateRequest) -> AsyncIterator[Delta]:
        rt, row = self._live.acquire(req.steering)  # CapacityExceeded → 429 before anything streams
        gen = None
        if req.sampling.temperature > 0:
            gen = torch.Generator()
            gen.manual_seed(req.sampling.seed if req.sampling.seed is not None else torch.seed())
        seq = Sequence(req, asyncio.get_running_loop(), asyncio.Queue(), row,
                   RequestMonitor.of(req.steering, rt.columns, trace=req.report_tokens),
                   AppliedCounter(req.steering, rt.columns),
                   Detokenizer(self.tokenizer, req.sampling.stop), gen, rt, prompt_only(req.steering, rt.columns))
        self._by_id[req.request_id] = seq
        with self._cv:
            self._waiting.append(seq)
            self._cv.notify()
        try:
            while True:
                delta = await seq.out.get()
                yield delta
                if delta.finish_reason is not None:
                    return
        finally:
            if not seq.done:
                seq.aborted = True  # the worker frees the row and the slot at its next step

    async def abort(self, request_id: str) -> None:
        seq = self._by_id.get(request_id)
        if seq is not None:
            seq.aborted = True

    async def shutdown(self) -> None:
        self._stop.set()
        with self._cv:
            self._cv.notify()
        await asyncio.to_thread(self._thread.join, 30)
        self._live.close()

    # -- worker thread -----------------------------------------------------------------------------------------
    def _run(self) -> None:
        torch.set_grad_enabled(False)
        while not self._stop.is_set():
            if not self._active:
                with self._cv:
                    self._cv.wait_for(lambda: self._waiting or self._stop.is_set(), timeout=0.1)
            with self._lock:
                try:
                    self._admit()
                    if self._active:
                        self._decode_step()
                except Exception:  # a bug in one step must not kill the engine: fail the requests it touched
                    log.exception("engine step failed")
                    for s in self._active:
                        self._finish(s, "error")
                    self._active, self._batch = [], PaddedBatch()
                self._live.retire()
            self.batch_size = len(self._active)

    def _admit(self) -> None:
        """Prefill one batch of waiting requests (FIFO, within the token budget) if there are free slots. One batch
        per iteration: a burst of arrivals is prefilled in chunks between decode steps (chunked prefill at request
        granularity), so running requests keep streaming and the first chunk's requests start early."""
        if len(self._active) < self.max_num_seqs:
            group = self._take_group(self.max_num_seqs - len(self._active))
            if not group:
                return
            try:
                self._prefill(group)
            except _ForwardFailed:  # nothing was mutated: retry request by request; only one that fails alone fails
                log.exception("batched prefill failed; prefilling its %d requests one by one", len(group))
                for seq in group:
                    try:
                        self._prefill([seq])
                    except Exception:
                        log.exception("prefill failed for %s", seq.req.request_id)
                        self._finish(seq, "error")
            except Exception:
                log.exception("prefill failed after the forward")
                for seq in group:
                    self._finish(seq, "error")

    def _take_group(self, room: int) -> list[Sequence]:
        """Waiting requests for one prefill: FIFO, at most ``room``, padded size within the token budget."""
        group: list[Sequence] = []
        longest = 0
        with self._cv:
            while self._waiting and len(group) < room:
                seq = self._waiting[0]
                if seq.aborted:
                    self._waiting.popleft()
                    self._finish(seq, "abort")
                    continue
                p = max(longest, len(seq.req.prompt_ids))
                if group and p * (len(group) + 1) > self.max_prefill_tokens:
                    break
                group.append(self._waiting.popleft())
                longest = p
        return group

    def _prefill(self, group: list[Sequence]) -> None:
        """One left-padded forward over the prompts of ``group``. Per request, exactly as alone: positions from 0,
        padding masked and given row 0 / the discard slot, the attention sink (first real token) never steered or
        monitored."""
        lens = [len(s.req.prompt_ids) for s in group]
        k, L = len(group), max(lens)
        ids = torch.zeros(k, L, dtype=torch.long)
        mask = torch.zeros(k, L, dtype=torch.long)
        pos = torch.zeros(k, L, dtype=torch.long)
        slot = torch.full((k, L), group[0].rt.S, dtype=torch.long)  # S = discard (padding)
        for j, (s, p) in enumerate(zip(group, lens, strict=True)):
            ids[j, L - p:] = torch.tensor(s.req.prompt_ids)
            mask[j, L - p:] = 1
            pos[j, L - p:] = torch.arange(p)
            slot[j, L - p:] = j
        end = torch.zeros(k, L, dtype=torch.bool)
        end[:, -1] = True  # left-padded: every prompt ends in the last column
        cache = DynamicCache()
        logits, states = self._forward(group, mask, slot, pos, end, input_ids=ids, attention_mask=mask, position_ids=pos,
                                       past_key_values=cache, use_cache=True, logits_to_keep=1)  # [k, V]
        joined = PaddedBatch()
        joined.join(cache_tensors(cache), mask)
        keep = []
        for j, (s, p) in enumerate(zip(group, lens, strict=True)):
            s.absorb(states[id(s.rt)], j, "prompt")
            s.length = p
            if s.prompt_only:  # the prompt is in the KV cache: generated tokens go without these features
                s.switch(after_prompt(s.req.steering, s.prompt_only))
            if self._next_token(s, logits[j]):
                keep.append(j)
        if keep:
            joined.keep(keep)
            self._batch.join(joined.kv, joined.mask)
            self._active += [group[j] for j in keep]

    def _decode_step(self) -> None:
        """One decode step for the whole batch. If it raises (a bad hook, a bad input), the batch's KV state is
        untouched (each step builds a fresh cache from it), so every request retries the step alone: only the
        request(s) that fail alone get ``finish_reason: "error"``, the others go on as if nothing happened."""
        try:
            self._active = self._step(self._active, self._batch)
        except _ForwardFailed:
            log.exception("decode step failed; isolating the failing request")
            survivors, kept = PaddedBatch(), []
            for b, s in enumerate(self._active):
                solo = self._batch.select(b)
                try:
                    if self._step([s], solo):
                        survivors.join(solo.kv)
                        kept.append(s)
                except _ForwardFailed:
                    log.exception("request %s fails alone too: failing it", s.req.request_id)
                    self._finish(s, "error")
            self._active, self._batch = kept, survivors

    def _step(self, active: list[Sequence], batch: PaddedBatch) -> list[Sequence]:
        """Forward ``active`` (whose caches are ``batch``) by one token; returns the requests that go on and
        drops the others from ``batch``."""
        B = len(active)
        pos = torch.tensor([[s.length] for s in active])  # [B, 1]
        cache = batch.cache()
        mask = torch.nn.functional.pad(batch.mask, (0, 1), value=1)  # [B, T+1]
        try:
            logits, states = self._forward(active, torch.ones(B, 1, dtype=torch.long), torch.arange(B).view(B, 1),
                                           pos, None, input_ids=torch.tensor([[s.last_token] for s in active]),
                                           attention_mask=mask, position_ids=pos, past_key_values=cache, use_cache=True)
        except _ForwardFailed:  # kv is untouched (the cache object may not be): the caller may retry per request
            batch.discard_cache()
            raise
        batch.absorb(cache)
        keep = []
        for b, s in enumerate(active):
            s.length += 1
            s.absorb(states[id(s.rt)], b, "completion")
            if self._next_token(s, logits[b]):
                keep.append(b)
        if len(keep) < B:
            batch.keep(keep)
        return [active[b] for b in keep]

    def _forward(self, seqs: list[Sequence], real: torch.Tensor, slot: torch.Tensor, pos: torch.Tensor,
                 prompt_end: torch.Tensor | None, **inputs) -> tuple[torch.Tensor, dict[int, BatchState]]:
        """One forward pass of ``seqs`` (request ``j`` is row ``j`` of the ``[k, T]`` inputs, ``real`` 1 on its
        tokens, ``prompt_end`` true on its last prompt token, None in decode steps): each live table sees its own
        requests' config rows (0 elsewhere); last position's logits ``[k, V]`` and each table's batch state
        (readouts, receipts) by ``id``."""
        keep_tokens = any(s.req.report_tokens for s in seqs)
        with ExitStack() as stack:
            states = {}
            for rt in {id(s.rt): s.rt for s in seqs}.values():
                own = torch.tensor([s.row if s.rt is rt else 0 for s in seqs]).view(-1, 1)
                latched = torch.stack([s.latched if s.rt is rt and s.latched is not None
                                       else torch.zeros(len(rt.gates), dtype=torch.bool)
                                       for s in seqs]) if rt.latches else None  # no latch loaded: nothing carried
                states[id(rt)] = stack.enter_context(rt.forward(
                    (own * real).flatten(), slot.flatten(), pos.flatten(), keep_tokens=keep_tokens,
                    prompt_end=None if prompt_end is None else prompt_end.flatten(), latched=latched))
            try:
                logits = self.model(**inputs).logits[:, -1]
            except Exception as e:
                raise _ForwardFailed from e
        for j, s in enumerate(seqs):  # a latch closed in this pass stays closed in the request's next ones
            if (latch := states[id(s.rt)].latch) is not None:
                s.latched = latch.latched()[j]
        return logits, states

    def _next_token(self, seq: Sequence, logits: torch.Tensor) -> bool:
        """Sample and emit the request's next token; returns whether the request goes on."""
        reason = seq.next_token(logits, self.eos_ids, self.info.max_model_len, self._token_text)
        if reason is not None:
            self._finish(seq, reason)
        return reason is None

    def _finish(self, seq: Sequence, reason: str) -> None:
        if seq.done:
            return
        seq.done = True
        self._live.release(seq.rt, seq.row)
        self._by_id.pop(seq.req.request_id, None)
        if reason != "content_filter":
            seq.pending.text += seq.detok.flush()
        seq.pending.finish_reason = reason
        seq.pending.monitors = seq.monitor.summary()
        seq.pending.positions = seq.applied.as_dict()
        seq.pending.token_readings = seq.monitor.tokens()
        seq.flush()
