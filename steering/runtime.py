"""All loaded packs on device (:class:`SteeringRuntime`): one :class:`~steering.site_table.SiteTable` per hooked
layer (the fused op, ARCHITECTURE §2), the registry of config rows (:class:`ConfigRows`) and the state of the
forward pass under way (:class:`BatchState`), which the hooks read and fill.

Per request slot, a condition with a ``latch`` closes its pack's gate from the first position where the latch
feature fires (``Latch.first [S+1, G]``, a scatter-min over the pass, seeded from earlier passes: the engine carries
:meth:`~steering.readout.Latch.latched` from pass to pass).

>>> rt = SteeringRuntime([pack], d_model=576)                         # doctest: +SKIP
>>> row = rt.rows.acquire({("golden-gate", "bridge"): ("clamp", 40.0)})  # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from steering.config import FeatureRef, ResolvedConfig
from steering.errors import CapacityExceeded, UnknownFeature, UnknownFeaturePack
from steering.pack.io import FeaturePack, SiteTensors
from steering.readout import EditCount, Latch, MonitorReadout
from steering.site_table import Column, SiteTable, sink


@dataclass
class BatchState:
    """What the engine sets before each forward pass (:meth:`SteeringRuntime.forward`): per token (flattened
    ``[N]``) config row, request slot and position in the request; and the set of rows present (eager fast path).
    The hooks append what the pass reports: monitor ``readouts`` and receipts (``edits``)."""

    row: torch.Tensor | None = None
    slot: torch.Tensor | None = None
    pos: torch.Tensor | None = None
    rows_present: set[int] | None = None
    gates: torch.Tensor | None = None  # [N, G] conditional packs' gates (1 = edit), written at their read sites
    prompt_end: torch.Tensor | None = None  # [N] bool: the token is its request's last prompt token
    latch: Latch | None = None  # conditions with a latch: their state in this pass (see Latch)
    carry: torch.Tensor | None = None  # [N, K] summed features' running sums, from their lowest site to their read site
    keep_tokens: bool = False  # readouts also keep every token's reading (a request asked for a per-token report)
    readouts: list[MonitorReadout] = field(default_factory=list)
    edits: list[EditCount] = field(default_factory=list)


class ConfigRows:
    """Maps distinct request configs to table rows, reference-counted. Row 0 is reserved for 'unsteered'."""

    def __init__(self, runtime: SteeringRuntime, capacity: int) -> None:
        self.runtime, self.capacity = runtime, capacity
        self._by_key: dict[tuple, int] = {}
        self._refs = [0] * capacity
        self._key_of: dict[int, tuple] = {}
        self._lock = threading.Lock()

    def acquire(self, config: ResolvedConfig) -> int:
        """Row for ``config`` (shared with identical configs). Empty config → row 0. Raises CapacityExceeded."""
        key = tuple(sorted((ref, op, float(v)) for ref, (op, v) in config.items()))
        if not key:
            return 0
        with self._lock:
            r = self._by_key.get(key)
            if r is None:
                free = [i for i in range(1, self.capacity) if self._refs[i] == 0 and i not in self._key_of]
                if not free:
                    raise CapacityExceeded(f"all {self.capacity - 1} steering config rows are in use; retry shortly")
                r = free[0]
                self.runtime._write_row(r, config)
                self._by_key[key], self._key_of[r] = r, key
            self._refs[r] += 1
            return r

    def release(self, r: int) -> None:
        if r == 0:
            return
        with self._lock:
            self._refs[r] -= 1
            if self._refs[r] == 0:
                self.runtime._write_row(r, {})
                del self._by_key[self._key_of.pop(r)]

    def switch(self, row: int, config: ResolvedConfig) -> int:
        """Move a request from ``row`` to ``config``'s row (counter-steering from the token where a monitor fires).
        The new row is taken before the old one is given back, so a row other requests share is never rewritten
        under them. Raises CapacityExceeded (the request then keeps ``row``)."""
        new = self.acquire(config)
        self.release(row)
        return new

    def in_use(self) -> int:
        return sum(1 for c in self._refs if c > 0)


class SteeringRuntime:
    """All loaded packs on device: one :class:`SiteTable` per layer, a config-row registry, the batch state.

    ``max_configs`` (``C``) bounds the distinct configs alive at once (row 0 included); ``max_slots`` (``S``)
    bounds request slots in one forward pass. Both are static so the op can live in a compiled region.
    """

    def __init__(
        self,
        packs: Iterable[FeaturePack],
        d_model: int,
        *,
        max_configs: int = 64,
        max_slots: int = 256,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        layers: Iterable[int] | None = None,
        column_capacity: int | None = None,
    ) -> None:
        """``layers`` and ``column_capacity`` fix the table shapes in advance (static-graph engines: a reload must
        fit the shapes the graph was compiled with); by default there is one site per pack layer, sized exactly."""
        self.packs = {p.id: p for p in packs}
        self.d, self.S = d_model, max_slots
        self.columns: dict[FeatureRef, Column] = {}
        by_layer: dict[int, list[tuple[FeaturePack, SiteTensors, object]]] = {layer: [] for layer in layers or ()}
        for p in self.packs.values():
            for site in p.sites:
                if layers is not None and site.layer not in by_layer:
                    raise CapacityExceeded(f"pack '{p.id}' has a site at layer {site.layer}, not a hooked layer "
                                           f"({sorted(by_layer)})")
                by_layer.setdefault(site.layer, []).extend((p, site, f) for f in p.manifest.features)
        self.sites: dict[int, SiteTable] = {}
        self.gates = {p.id: g for g, p in enumerate(p for p in self.packs.values() if p.manifest.condition)}
        self.latches = any(p.manifest.condition.latch for p in self.packs.values() if p.manifest.condition)
        placed: dict[FeatureRef, list[tuple[int, int]]] = {}
        for layer, feats in sorted(by_layer.items()):
            F = len(feats) if column_capacity is None else column_capacity
            if len(feats) > F:
                raise CapacityExceeded(f"layer {layer} needs {len(feats)} feature columns; the table holds {F}")
            t = SiteTable(layer, d_model, F, max_configs, torch.device(device), dtype)
            for col, (p, site, f) in enumerate(feats):
                t.fill(col, p.manifest.encoder.kind, site, f.index)
                t.at_prompt_end[col] = f.read_at == "last_prompt_token"
                placed.setdefault(FeatureRef(p.id, f.name), []).append((layer, col))
                cond = p.manifest.condition
                latch = cond.latch if cond is not None else None
                if cond is not None and f.name == cond.feature:
                    if layer == p.layers[cond.site]:  # read at its site only; never gated itself
                        t.gate_src.append((col, cond.threshold, cond.apply_when == "above", self.gates[p.id]))
                elif latch is not None and f.name == latch.feature:
                    if layer == p.layers[latch.site]:
                        t.latch_src.append((col, latch.threshold, self.gates[p.id]))
                elif cond is not None:
                    t.col_gate[col] = self.gates[p.id]
            t.has_gated = bool((t.col_gate >= 0).any())
            t.has_prompt_end = bool(t.at_prompt_end.any())
            t.writes.copy_((t.W_dec != 0).any(1).to(t.writes.dtype))
            self.sites[layer] = t
        self.carries = 0  # summed features (readout "sum"): one running-sum column each in the pass's carry
        for p in self.packs.values():
            summed = p.manifest.readout == "sum"
            for f in p.manifest.features:
                at = sorted(placed[(p.id, f.name)], key=lambda lc: p.layers.index(lc[0]))  # the pack's site order
                # a condition or latch: read at its own site; any other feature at the pack's monitor layer
                read = p.manifest.read_layers().get(f.name, p.manifest.monitor_layer)
                at = sorted(at, key=lambda lc: lc[0] != read)
                thr = f.threshold if f.threshold is not None else float("inf")
                writes = tuple(layer for layer, col in at if self.sites[layer].writes[col] > 0)
                self.columns[FeatureRef(p.id, f.name)] = Column(*at[0], p, f.max_activation, thr, tuple(at), writes,
                                                                f.apply_to, f.read_at, summed)
                if summed:
                    self._place_sum(at, self.carries)
                    self.carries += 1
        self.rows = ConfigRows(self, max_configs)
        self.batch = BatchState()  # idle: the hooks pass the stream through untouched

    @contextmanager
    def forward(self, rows: torch.Tensor, slots: torch.Tensor | None, positions: torch.Tensor, *,
                keep_tokens: bool = False, prompt_end: torch.Tensor | None = None,
                latched: torch.Tensor | None = None) -> Iterator[BatchState]:
        """The batch state of one forward pass, set for its duration: per token ``[N]`` (flattened) its config
        row, request slot (``S`` = discard: padding; None: no readouts), position in its sequence and, for
        monitors read at the last prompt token only (``read_at``), whether it is its request's last prompt token
        (``prompt_end``, bool; None: no token is, and such monitors read nothing in this pass) and, for conditions
        with a latch, the latches each slot closed in earlier passes (``latched [k, G]``; the engine carries
        ``state.latch.latched()`` from pass to pass; with ``slots`` None a latch acts on the tokens it fires on
        only). Applies the
        attention-sink rule (:func:`sink`); yields the state, whose ``readouts`` and ``edits`` the hooks fill (they
        stay readable after the block); the runtime is idle again afterwards.

        >>> with runtime.forward(rows, slots, positions) as state:   # doctest: +SKIP
        ...     logits = model(...)
        >>> monitor.update(state.readouts, slot, "prompt")            # doctest: +SKIP
        """
        rows, slots = sink(rows, slots, positions, self.S)
        latch = Latch.new(slots, positions, self.S, len(self.gates), latched) if self.latches and slots is not None \
            else None
        self.batch = state = BatchState(rows, slots, positions, set(rows.unique().tolist()), keep_tokens=keep_tokens,
                                        prompt_end=prompt_end, latch=latch)
        try:
            yield state
        finally:
            self.batch = BatchState()

    def column(self, ref: FeatureRef) -> Column:
        if ref[0] not in self.packs:
            raise UnknownFeaturePack(f"unknown feature pack '{ref[0]}'", param="steering")
        c = self.columns.get(ref)
        if c is None:
            raise UnknownFeature(f"pack '{ref[0]}' has no feature '{ref[1]}'", param="steering")
        return c

    def _place_sum(self, at: list[tuple[int, int]], k: int) -> None:
        """A summed feature with carry index ``k`` and columns ``at`` (its read site first): the lowest site writes
        its term, the sites between add theirs, the read site (the highest) adds the sum into its column."""
        (read, read_col), below = at[0], sorted(at[1:])
        for i, (layer, col) in enumerate(below):
            self.sites[layer].carry_src.append((col, k, i == 0))
        self.sites[read].carry_dst.append((read_col, k))

    def _write_row(self, r: int, config: ResolvedConfig) -> None:
        for t in self.sites.values():
            for tab in (t.add, t.clamp_on, t.clamp_to, t.watch):
                tab[r].zero_()
            t.watch_thr[r].fill_(float("inf"))
            t.edits.discard(r), t.encodes.discard(r), t.watches.discard(r)
        for ref, (op, value) in config.items():
            c = self.column(ref)
            if op == "monitor":  # read at the feature's read site only
                t = self.sites[c.layer]
                t.watch[r, c.col] = 1.0
                t.watch_thr[r, c.col] = value
                t.encodes.add(r), t.watches.add(r)
                for layer, _ in c.at if c.summed else ():  # every site's term goes into the sum
                    self.sites[layer].encodes.add(r)
                continue
            if c.summed:
                raise ValueError(f"'{ref[0]}/{ref[1]}' is read over several layers (readout 'sum'): monitor only")
            for layer in c.pack.manifest.read_layers().values():  # a conditional pack's gate is read for every edit
                self.sites[layer].encodes.add(r)
            for layer, col in c.at:  # edits at every site of the feature's pack
                t = self.sites[layer]
                if op == "add":
                    t.add[r, col] = value
                    t.edits.add(r)
                elif op in ("clamp", "suppress"):
                    t.clamp_on[r, col] = 1.0
                    t.clamp_to[r, col] = 0.0 if op == "suppress" else value
                    t.edits.add(r), t.encodes.add(r)
                else:
                    raise ValueError(f"op {op!r} cannot be written to a table row")

    # -- called by hooks ---------------------------------------------------------------------------------------
    def apply_site(self, layer: int, h: torch.Tensor) -> torch.Tensor:
        """Run the fused op for ``layer`` on ``h [..., d]`` with the current batch state; collect monitor readouts."""
        t, b = self.sites[layer], self.batch
        if b.row is None:
            return h
        shape = h.shape
        flat = h.reshape(-1, self.d)  # [N, d]
        if self.gates and (b.gates is None or b.gates.shape[0] != flat.shape[0]):  # read sites come first and set them
            b.gates = torch.ones(flat.shape[0], len(self.gates), dtype=torch.bool, device=flat.device)
        if self.carries and (b.carry is None or b.carry.shape[0] != flat.shape[0]):
            b.carry = torch.zeros(flat.shape[0], self.carries, dtype=t.W_enc.dtype, device=flat.device)
        out, seen = t.apply(flat, b.row, b.rows_present, b.gates, b.prompt_end, b.latch, b.carry)
        if seen is not None and b.slot is not None:
            b.readouts.append(MonitorReadout.reduce(layer, seen, t.watch_thr[b.row], b.slot, b.pos, self.S,
                                                    keep_tokens=b.keep_tokens))
        if out is not flat and b.slot is not None:  # the op edited this batch: count where, per request
            b.edits.append(EditCount.reduce(layer, t.edit_mask(b.row, b.gates), b.slot, self.S))
        return out.reshape(shape)
