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

from steering.errors import SteeringError
from steering.hooks import decoder_layers
from steering.monitor import RequestMonitor
from steering.pack import FeaturePack
from steering.runtime import ConfigRows, MonitorReadout, SteeringRuntime, reduce_per_slot
from steering.vllm.config import RequestSteeringArgs, decode

log = logging.getLogger("steerserve.vllm")


@dataclass
class _Req:
    args: RequestSteeringArgs
    row: int
    monitor: RequestMonitor | None
    prompt_len: int


class WorkerSteering:
    """Steering state of one vLLM worker (one model replica / TP rank)."""

    def __init__(self, model: torch.nn.Module, packs: list[FeaturePack], *, d_model: int, max_tokens: int,
                 max_reqs: int, column_capacity: int = 64, device: torch.device | str = "cpu",
                 publisher=None) -> None:
        self.layers = sorted({p.layer for p in packs})
        self.capacity, self.max_reqs, self.device = column_capacity, max_reqs, torch.device(device)
        # one row per running request is enough; +2 covers a conditional-steering switch (acquire before release)
        self.rt = self._runtime(packs, d_model)
        self.row_buf = torch.zeros(max_tokens, dtype=torch.long, device=self.device)
        self.act_buf = {layer: torch.zeros(max_tokens, column_capacity, device=self.device) for layer in self.layers}
        self.reqs: dict[str, _Req] = {}
        self.publisher = publisher
        self._step: tuple | None = None  # (req ids, offsets, first positions) of the pass in flight
        layers = decoder_layers(model)
        self.handles = [layers[layer].register_forward_hook(self._hook(layer)) for layer in self.layers]
        log.info("steerserve: %d packs on layers %s (%d columns per layer, %d config rows)",
                 len(packs), self.layers, column_capacity, self.max_reqs + 2)

    def _runtime(self, packs: list[FeaturePack], d_model: int) -> SteeringRuntime:
        return SteeringRuntime(packs, d_model, max_configs=self.max_reqs + 2, max_slots=self.max_reqs,
                               device=self.device, layers=self.layers, column_capacity=self.capacity)

    def _hook(self, layer: int):
        site, acts, rows = self.rt.sites[layer], self.act_buf[layer], self.row_buf

        def hook(module, args, output):
            h, residual = output
            n = h.shape[0]
            delta, a = site.apply_static(h + residual, rows[:n])
            acts[:n].copy_(a)
            return h + delta, residual

        return hook

    # -- per step ----------------------------------------------------------------------------------------------
    def before_forward(self, runner, num_tokens: int) -> None:
        """Map this pass's tokens to config rows (``runner`` is vLLM's GPU/CPU model runner)."""
        batch = runner.input_batch
        n_req = batch.num_reqs
        ids = list(batch.req_ids[:n_req])
        offsets = np.asarray(runner.query_start_loc.np[: n_req + 1], dtype=np.int64)
        first_pos = np.asarray(batch.num_computed_tokens_cpu[:n_req], dtype=np.int64)
        self._release_finished(runner)
        rows = np.zeros(num_tokens, dtype=np.int64)
        for i, rid in enumerate(ids):
            r = self.reqs.get(rid) or self._admit(rid, runner.requests[rid])
            if r is not None and r.row:
                rows[offsets[i]: offsets[i + 1]] = r.row
                if first_pos[i] == 0:
                    rows[offsets[i]] = 0  # the attention sink
        self.row_buf[:num_tokens].copy_(torch.from_numpy(rows), non_blocking=True)
        self._step = (ids, offsets, first_pos)

    def after_forward(self) -> None:
        """Fold this pass's activations into the monitors of the requests that watch; send readings."""
        if self._step is None:
            return
        ids, offsets, first_pos = self._step
        self._step = None
        watching = [(i, rid) for i, rid in enumerate(ids) if (r := self.reqs.get(rid)) and r.monitor]
        if not watching:
            return
        n = int(offsets[-1])
        counts = np.diff(offsets)
        slot = torch.from_numpy(np.repeat(np.arange(len(ids)), counts)).to(self.device)
        pos = torch.from_numpy(np.repeat(first_pos - offsets[:-1], counts) + np.arange(n)).to(self.device)
        rows = self.row_buf[:n]
        readouts = []
        for layer, t in self.rt.sites.items():
            if not t.watches:
                continue
            seen = torch.where(t.watch[rows] > 0, self.act_buf[layer][:n], float("-inf"))
            readouts.append(MonitorReadout(layer, *reduce_per_slot(seen, t.monitor_thr, slot, pos, len(ids))))
        out = []
        for i, rid in watching:
            r = self.reqs[rid]
            phase = "prompt" if first_pos[i] < r.prompt_len else "completion"
            events = r.monitor.update(readouts, i, phase)
            for e in events:
                log.warning("steerserve monitor %s fired on request %s at token %d (%.3f > %.3f)",
                            e.name, r.args.key or rid, e.token_index, e.value, e.threshold)
                if e.feature in r.args.steer_on:
                    self._switch(rid, r, {**r.args.config, **r.args.steer_on[e.feature]})
            if r.args.report and self.publisher is not None:
                out.append(self.publisher.reading(r.args.key, int(first_pos[i] + counts[i]), events,
                                                  r.monitor.summary()))
        if out:
            self.publisher.send(out)

    # -- request lifecycle --------------------------------------------------------------------------------------
    def _admit(self, rid: str, state) -> _Req | None:
        try:
            args = decode(state.sampling_params.extra_args if state.sampling_params else None, self.rt)
            if args is None:
                return None
            row = self.rt.rows.acquire(args.config)
        except SteeringError as e:  # the API process validates first; reaching this is a bug, say so loudly
            log.error("steerserve: request %s runs UNSTEERED: %s", rid, e.message)
            return None
        watched = {ref: self.rt.columns[ref] for ref, (op, _) in args.config.items() if op == "monitor"}
        r = _Req(args, row, RequestMonitor(watched) if watched else None, len(state.prompt_token_ids or ()))
        self.reqs[rid] = r
        return r

    def _switch(self, rid: str, r: _Req, config: dict) -> None:
        try:
            row = self.rt.rows.acquire(config)
        except SteeringError as e:
            log.error("steerserve: cannot counter-steer %s: %s", rid, e.message)
            return
        self.rt.rows.release(r.row)
        r.row, r.args.config = row, config

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
            for name in ("W_enc", "b_enc", "thr", "linear", "W_dec", "monitor_thr"):
                getattr(t, name).copy_(getattr(nt, name))
            for tab in (t.add, t.clamp_on, t.clamp_to, t.watch):
                tab.zero_()
            t.edits.clear(), t.encodes.clear(), t.watches.clear()
        self.rt.packs, self.rt.columns = new.packs, new.columns
        self.rt.rows = ConfigRows(self.rt, self.rt.rows.capacity)
        for r in self.reqs.values():
            r.args.config = {ref: v for ref, v in r.args.config.items() if ref in new.columns}
            r.row = self.rt.rows.acquire(r.args.config)
            if r.monitor:
                r.monitor = RequestMonitor({ref: new.columns[ref] for ref in r.monitor.columns if ref in new.columns})
        log.info("steerserve: reloaded %d packs", len(packs))

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles.clear()
