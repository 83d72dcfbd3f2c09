"""The worker side of the vLLM integration: static steering tables on the model's layers, and per-step bookkeeping.

vLLM flattens a step's tokens of every scheduled request into one ``[N, d]`` batch (chunked prefill and decode
mixed). Rows ``query_start_loc[i] : query_start_loc[i+1]`` belong to ``input_batch.req_ids[i]``. Before each
forward pass :meth:`WorkerSteering.before_forward` writes every token's config row into a persistent buffer; the
hook on each steered decoder layer reads that buffer and runs :meth:`SiteTable.apply_static` — no Python branch
depends on the batch, so the same hook is valid eager, under torch.compile and inside CUDA graphs (it is registered
before compilation, so it is part of the compiled region). After the pass, :meth:`after_forward` reduces the
activations the hook left in a second buffer into per-request monitor readings, switches rows for conditional
steering and sends the readings to the API process.

A vLLM decoder layer returns ``(h, residual)`` and the residual stream is ``h + residual``: the hook encodes that
sum and adds the delta to ``h`` once. Position 0 (the attention sink) is never steered, as in the HF engine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from steering.config import after_prompt, prompt_only
from steering.errors import CapacityExceeded, SteeringError
from steering.hooks import decoder_layers
from steering.monitor import AppliedCounter, RequestMonitor
from steering.pack import FeaturePack
from steering.readout import NEVER, EditCount, Latch, MonitorReadout
from steering.runtime import ConfigRows, SteeringRuntime
from steering.site_table import sink
from steering.vllm.config import RequestSteeringArgs, decode

log = logging.getLogger("steerserve.vllm")
MAX_GATES = 8  # conditional packs a worker can hold (the gate buffer is static, like the tables)
MAX_SUMS = 8  # features read as a sum over sites (readout "sum") a worker can hold (static carry buffer)


@dataclass
class _Req:
    args: RequestSteeringArgs
    row: int
    monitor: RequestMonitor | None
    prompt_len: int
    applied: AppliedCounter | None = None  # the receipt (positions edited), for requests that report
    prompt_only: frozenset = frozenset()  # features edited on the prompt only: dropped once the prompt is computed
    latched: torch.Tensor | None = None  # [MAX_GATES] latches of conditional packs closed so far (pass to pass)


class WorkerSteering:
    """Steering state of one vLLM worker (one model replica / TP rank)."""

    def __init__(self, model: torch.nn.Module, packs: list[FeaturePack], *, d_model: int, max_tokens: int,
                 max_reqs: int, column_capacity: int = 64, device: torch.device | str = "cpu",
                 publisher=None, secret: str | None = None) -> None:
        self.layers = sorted({layer for p in packs for layer in p.layers})
        self.capacity, self.max_reqs, self.device = column_capacity, max_reqs, torch.device(device)
        # one row per running request is enough; +2 covers a conditional-steering switch (acquire before release)
        self.rt = self._runtime(packs, d_model)
        self.row_buf = torch.zeros(max_tokens, dtype=torch.long, device=self.device)
        self.act_buf = {layer: torch.zeros(max_tokens, column_capacity, device=self.device) for layer in self.layers}
        # what the op edited, token × column: written by the hook itself, so a pass the op missed reads as 0
        self.edit_buf = {layer: torch.zeros(max_tokens, column_capacity, device=self.device) for layer in self.layers}
        # conditional packs' gates per token (1 = edit), written at each such pack's read site, read at its sites
        self.gate_buf = torch.ones(max_tokens, MAX_GATES, dtype=torch.bool, device=self.device)
        # summed features' running sums per token, from their lowest site to their read site (readout "sum")
        self.carry_buf = torch.zeros(max_tokens, MAX_SUMS, device=self.device)
        # latches (conditions that close for the rest of a request): each token's slot and position, and per slot
        # the first position each latch fired at, seeded before the pass from what earlier passes latched
        self.latch = Latch(torch.full((max_tokens,), max_reqs, dtype=torch.long, device=self.device),
                           torch.zeros(max_tokens, dtype=torch.long, device=self.device),
                           torch.full((max_reqs + 1, MAX_GATES), NEVER, dtype=torch.long, device=self.device))
        self.reqs: dict[str, _Req] = {}
        self.publisher = publisher
        self.secret = secret  # verifies the API process's signed configs (None: only the spec form is accepted)
        self.unsteered = 0  # requests that asked for steering this worker could not apply (each one logged)
        self._step: tuple | None = None  # (req ids, offsets, first positions) of the pass in flight
        layers = decoder_layers(model)
        self.handles = [layers[layer].register_forward_hook(self._hook(layer)) for layer in self.layers]
        log.info("steerserve: %d packs on layers %s (%d columns per layer, %d config rows)",
                 len(packs), self.layers, column_capacity, self.max_reqs + 2)

    def _runtime(self, packs: list[FeaturePack], d_model: int) -> SteeringRuntime:
        conditional = sum(p.manifest.condition is not None for p in packs)
        if conditional > MAX_GATES:
            raise CapacityExceeded(f"{conditional} conditional packs; a vLLM worker holds at most {MAX_GATES}")
        summed = sum(len(p.manifest.features) for p in packs if p.manifest.readout == "sum")
        if summed > MAX_SUMS:
            raise CapacityExceeded(f"{summed} features read as a sum over sites; a vLLM worker holds at most {MAX_SUMS}")
        return SteeringRuntime(packs, d_model, max_configs=self.max_reqs + 2, max_slots=self.max_reqs,
                               device=self.device, layers=self.layers, column_capacity=self.capacity)

    def _hook(self, layer: int):
        site, acts, edits, rows = self.rt.sites[layer], self.act_buf[layer], self.edit_buf[layer], self.row_buf
        gates, latch, carry = self.gate_buf, self.latch, self.carry_buf

        def hook(module, args, output):
            h, residual = output
            n = h.shape[0]
            delta, a = site.apply_static(h + residual, rows[:n], gates[:n],
                                         Latch(latch.slot[:n], latch.pos[:n], latch.first), carry[:n])
            acts[:n].copy_(a)
            edits[:n].copy_(site.edit_mask(rows[:n], gates[:n]))
            return h + delta, residual

        return hook

    # -- per step ----------------------------------------------------------------------------------------------
    def before_forward(self, runner, num_tokens: int) -> None:
        """Map this pass's tokens to config rows (``runner`` is vLLM's GPU/CPU model runner). Should this ever
        fail, the pass runs wholly unsteered and says so: never an exception into vLLM's step."""
        try:
            self._map_rows(runner, num_tokens)
        except Exception:  # noqa: BLE001 — isolation (see _admit)
            log.exception("steerserve: this step runs UNSTEERED (could not map tokens to config rows)")
            self.row_buf[:num_tokens].zero_()
            self._step = None

    def after_forward(self) -> None:
        """Fold this pass's activations into the monitors of the requests that watch; send readings."""
        if self._step is None:
            return
        step, self._step = self._step, None
        try:
            self._read_monitors(*step)
        except Exception:  # noqa: BLE001 — isolation: a monitor fault loses readings, never the engine
            log.exception("steerserve: monitor readings of this step were lost")
        try:
            self._carry_latches(step[0])
        except Exception:  # noqa: BLE001 — isolation
            log.exception("steerserve: latches of this step were lost")
        try:
            self._end_prompts(*step[:3])
        except Exception:  # noqa: BLE001 — isolation
            log.exception("steerserve: prompt-only features could not be switched off")

    def _carry_latches(self, ids: list[str]) -> None:
        """A latch closed in this pass stays closed in the request's next passes."""
        if self.rt.latches:
            latched = self.latch.latched().cpu()
            for i, rid in enumerate(ids):
                if (r := self.reqs.get(rid)) is not None:
                    r.latched = latched[i]

    def _end_prompts(self, ids: list[str], offsets: np.ndarray, first_pos: np.ndarray) -> None:
        """Requests whose prompt (possibly prefilled in chunks) is now wholly computed drop their prompt-only
        features: the next pass feeds their first generated token. After the monitors are read, which index the
        tables by this pass's rows."""
        ends = first_pos + np.diff(offsets)
        for i, rid in enumerate(ids):
            r = self.reqs.get(rid)
            if r is not None and r.prompt_only and ends[i] >= r.prompt_len:
                drop, r.prompt_only = r.prompt_only, frozenset()
                self._switch(rid, r, after_prompt(r.args.config, drop))

    def _map_rows(self, runner, num_tokens: int) -> None:
        batch = runner.input_batch
        n_req = batch.num_reqs
        ids = list(batch.req_ids[:n_req])
        offsets = np.asarray(runner.query_start_loc.np[: n_req + 1], dtype=np.int64)
        first_pos = np.asarray(batch.num_computed_tokens_cpu[:n_req], dtype=np.int64)
        self._release_finished(runner)
        n, counts = int(offsets[-1]), np.diff(offsets)
        own = np.zeros(len(ids), dtype=np.int64)
        last = np.full(len(ids), -1, dtype=np.int64)  # position of each request's last prompt token (-1: none)
        for i, rid in enumerate(ids):
            r = self.reqs.get(rid) or self._admit(rid, runner.requests[rid])
            own[i] = r.row if r is not None else 0
            last[i] = r.prompt_len - 1 if r is not None else -1
        pos = torch.from_numpy(np.repeat(first_pos - offsets[:-1], counts) + np.arange(n))  # position in its request
        prompt_end = pos == torch.from_numpy(np.repeat(last, counts))  # read_at "last_prompt_token" reads there
        slot = torch.from_numpy(np.repeat(np.arange(len(ids)), counts))  # request i's tokens are slot i
        rows, slot = sink(torch.from_numpy(np.repeat(own, counts)), slot, pos, len(ids))
        self.row_buf[:n].copy_(rows, non_blocking=True)
        self.row_buf[n:num_tokens].zero_()  # padding (CUDA-graph sizes)
        if self.rt.latches:
            self.latch.slot[:n].copy_(slot, non_blocking=True)
            self.latch.slot[n:num_tokens].fill_(self.max_reqs)  # padding: the discard slot, position 0 (never read)
            self.latch.pos[:n].copy_(pos, non_blocking=True)
            self.latch.pos[n:num_tokens].zero_()
            none = torch.zeros(MAX_GATES, dtype=torch.bool)
            self.latch.reset(torch.stack([r.latched if (r := self.reqs.get(rid)) and r.latched is not None
                                          else none for rid in ids]))
        for buf in self.edit_buf.values():
            buf[:num_tokens].zero_()
        self._step = (ids, offsets, first_pos, slot, pos, prompt_end)

    def _read_monitors(self, ids: list[str], offsets: np.ndarray, first_pos: np.ndarray, slot: torch.Tensor,
                       pos: torch.Tensor, prompt_end: torch.Tensor) -> None:
        """Per request of this pass: receipts (positions edited) and monitor readings; send what was asked for."""
        reporting = [(i, rid, r) for i, rid in enumerate(ids) if (r := self.reqs.get(rid)) and (r.monitor or r.applied)]
        if not reporting:
            return
        n, counts, S = int(offsets[-1]), np.diff(offsets), len(ids)
        slot, rows = slot.to(self.device), self.row_buf[:n]
        edits = [EditCount.reduce(layer, self.edit_buf[layer][:n], slot, S)
                 for layer, t in self.rt.sites.items() if t.edits]
        readouts = []
        if any(r.monitor for _, _, r in reporting):
            pos, end = pos.to(self.device), prompt_end.to(self.device)
            readouts = [MonitorReadout.reduce(layer, t.seen(self.act_buf[layer][:n], rows, end), t.watch_thr[rows],
                                              slot, pos, S) for layer, t in self.rt.sites.items() if t.watches]
        out = []
        for i, rid, r in reporting:
            if r.applied:
                r.applied.update(edits, i)
            events = []
            if r.monitor:
                phase = "prompt" if first_pos[i] < r.prompt_len else "completion"
                events = r.monitor.update(readouts, i, phase)
            for e in events:
                log.warning("steerserve monitor %s fired on request %s at token %d (%.3f > %.3f)",
                            e.name, r.args.key or rid, e.token_index, e.value, e.threshold)
                if e.feature in r.args.steer_on:
                    self._switch(rid, r, {**r.args.config, **r.args.steer_on[e.feature]})
            if r.args.report and self.publisher is not None:
                out.append(self.publisher.reading(r.args.key, int(first_pos[i] + counts[i]), events,
                                                  r.monitor.summary() if r.monitor else None,
                                                  r.applied.as_dict() if r.applied else None))
        if out:
            self.publisher.send(out)

    # -- request lifecycle --------------------------------------------------------------------------------------
    def _admit(self, rid: str, state) -> _Req | None:
        """A new request's steering. Nothing a request carries may raise out of here: this runs inside the
        engine's step, shared by every request, so a bad one runs unsteered (logged and counted) instead."""
        try:
            args = decode(state.sampling_params.extra_args if state.sampling_params else None, self.rt,
                          secret=self.secret)
            if args is None:
                return None
            row = self.rt.rows.acquire(args.config)
        except SteeringError as e:  # the input processor validates first; reaching this is a bug, say so loudly
            why = e.message
        except Exception as e:  # noqa: BLE001 — isolation: never let one request's extra_args kill the engine
            why = f"{type(e).__name__}: {e}"
        else:
            mon = RequestMonitor.of(args.config, self.rt.columns)
            applied = AppliedCounter(args.config, self.rt.columns) if args.report else None
            r = _Req(args, row, mon or None, len(state.prompt_token_ids or ()), applied,
                     prompt_only(args.config, self.rt.columns))
            self.reqs[rid] = r
            return r
        self.unsteered += 1
        log.error("steerserve: request %s runs UNSTEERED: %s", rid, why[:300])
        self.reqs[rid] = r = _Req(RequestSteeringArgs(None, {}), 0, None, 0)  # decided once, not every step
        return r

    def _switch(self, rid: str, r: _Req, config: dict) -> None:
        try:
            r.row = self.rt.rows.switch(r.row, config)
        except SteeringError as e:
            log.error("steerserve: cannot counter-steer %s: %s", rid, e.message)
            return
        r.args.config = config
        if r.applied:
            r.applied.set_config(config)

    def _release_finished(self, runner) -> None:
        for rid in [rid for rid in self.reqs if rid not in runner.requests]:
            self.rt.rows.release(self.reqs.pop(rid).row)

    # -- operator actions ----------------------------------------------------------------------------------------
    def reload(self, packs: list[FeaturePack]) -> None:
        """Swap pack contents in place (the compiled graph keeps its tensors; shapes must fit). Requests in flight
        keep their configs, re-resolved against the new packs; features that vanished are dropped from them."""
        new = self._runtime(packs, self.rt.d)
        for layer, t in self.rt.sites.items():
            nt = new.sites[layer]
            for name in ("W_enc", "b_enc", "thr", "linear", "W_dec", "col_gate", "writes"):
                getattr(t, name).copy_(getattr(nt, name))
            t.gate_src, t.latch_src, t.has_gated = nt.gate_src, nt.latch_src, nt.has_gated
            t.carry_src, t.carry_dst = nt.carry_src, nt.carry_dst
            for tab in (t.add, t.clamp_on, t.clamp_to, t.watch):
                tab.zero_()
            t.watch_thr.fill_(float("inf"))
            t.edits.clear(), t.encodes.clear(), t.watches.clear()
        old_gates = self.rt.gates
        self.latch.reset()  # nothing latched until the next pass seeds it (a pack set without latches never does)
        self.rt.packs, self.rt.columns, self.rt.gates, self.rt.latches = new.packs, new.columns, new.gates, new.latches
        self.rt.carries = new.carries
        self.rt.rows = ConfigRows(self.rt, self.rt.rows.capacity)
        for r in self.reqs.values():
            if r.latched is not None:  # a latch stays with its pack, wherever the reload put that pack's gate
                moved = torch.zeros(MAX_GATES, dtype=torch.bool)
                for pid, g in new.gates.items():
                    moved[g] = bool(r.latched[old_gates[pid]]) if pid in old_gates else False
                r.latched = moved
            r.args.config = {ref: v for ref, v in r.args.config.items() if ref in new.columns}
            r.row = self.rt.rows.acquire(r.args.config)
            if r.monitor:
                r.monitor = RequestMonitor.of(r.args.config, new.columns) or None
            if r.applied:
                kept = {ref: n for ref, n in r.applied.per_site.items() if ref in new.columns}
                r.applied = AppliedCounter(r.args.config, new.columns)
                r.applied.per_site.update(kept)
        log.info("steerserve: reloaded %d packs", len(packs))

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles.clear()
