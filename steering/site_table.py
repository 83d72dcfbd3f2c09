"""One hook site's steering table and the fused per-request op on it (ARCHITECTURE §2).

For one hook site (a decoder layer) every loaded feature of every pack with a site at that layer is one column of a
static table (a multi-site pack, format v2, has a column at each of its layers and its ops are written at all of
them; monitors read at its first site); every distinct request configuration is one row of small dense tables.
With ``h [N, d]`` the flattened tokens of a forward pass and ``row [N]`` the config row of each token:

    a    = act(h @ W_enc + b_enc)                        # [N, F]
    coef = add[row] + clamp_on[row] * (clamp_to[row] - a) # [N, F]
    h    = h + coef @ W_dec                              # only the chosen features move
    seen = a where watch[row] else -inf                  # monitors, reduced per request slot (a feature with
                                                         # read_at "last_prompt_token": read at that token only)
    edited = add[row] != 0 | clamp_on[row]               # receipts: positions the op edited, per request slot

A conditional pack (format v2 ``condition``) gates its columns' ``coef`` token by token: its condition feature is
read at the pack's read site (its lowest layer) into ``gates [N, G]`` (1 = edit here), which every site of the pack
multiplies in before ``coef @ W_dec``. A condition with a ``latch`` also closes the gate from the first token where
the latch feature fires to the end of the request (:class:`~steering.readout.Latch`).

A probe pack read as a sum over its sites (format v2 ``readout: "sum"``: one linear probe over several layers'
residuals) carries each feature's running sum in ``carry [N, K]`` from site to site in the pass: its lowest site
writes ``a[:, col]`` there, the sites between add theirs, and its highest site (the feature's read site) adds the
carried sum into its own column before monitors read it. Such features are only monitored, never edited.

Row 0 is all zeros (unsteered). Its tokens get ``coef == 0`` exactly, so ``h + 0`` is bit-identical to the input:
unsteered requests are untouched no matter what shares their batch. The cost does not depend on how many
distinct configs are in the batch: it is the same two small matmuls and a gather.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from steering.pack.io import FeaturePack, SiteTensors
from steering.readout import Latch

LINEAR_KINDS = ("probe", "direction")


def sink(rows: torch.Tensor, slots: torch.Tensor | None, positions: torch.Tensor,
         discard: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The attention-sink rule: the token at position 0 of a sequence (its residual norm is ~100x the others;
    editing it wrecks the model) gets row 0 and the ``discard`` slot, so it is never steered nor monitored.
    ``rows``/``slots``/``positions`` are per token ``[N]``; returns new ``rows`` and ``slots``."""
    first = positions == 0
    return rows.masked_fill(first, 0), None if slots is None else slots.masked_fill(first, discard)


@dataclass(frozen=True)
class Column:
    """Where a feature lives in the tables: ``(layer, col)`` at its read site (monitors read there) and ``at``, its
    column at every site of its pack (edits are written at all of them)."""

    layer: int
    col: int
    pack: FeaturePack
    max_activation: float
    threshold: float  # the pack's monitor threshold (the default for a request's monitor); +inf when none
    at: tuple[tuple[int, int], ...] = ()
    writes_at: tuple[int, ...] = ()  # layers where its decoder row is non-zero (where an edit can move the stream)
    apply_to: str = "all"  # the pack feature's ``apply_to``: "all" positions, or the "prompt" only
    read_at: str = "all"  # the pack feature's ``read_at``: a monitor reads "all" positions or "last_prompt_token"
    summed: bool = False  # read as the sum of its sites' activations (``readout: "sum"``; monitor-only)


class SiteTable:
    """Static tensors for one layer. Shapes: ``W_enc [d, F]``, ``W_dec [F, d]``, config tables ``[C, F]``."""

    def __init__(self, layer: int, d: int, F: int, C: int, device: torch.device, dtype: torch.dtype) -> None:
        self.layer, self.d, self.F, self.C = layer, d, F, C
        z = dict(device=device, dtype=dtype)
        self.W_enc = torch.zeros(d, F, **z)
        self.b_enc = torch.zeros(F, **z)
        self.thr = torch.zeros(F, **z)  # JumpReLU threshold; 0 makes the same formula a ReLU
        self.linear = torch.zeros(F, dtype=torch.bool, device=device)  # probe/direction: identity activation
        self.W_dec = torch.zeros(F, d, **z)
        self.add = torch.zeros(C, F, **z)
        self.clamp_on = torch.zeros(C, F, **z)
        self.clamp_to = torch.zeros(C, F, **z)
        self.watch = torch.zeros(C, F, **z)
        self.watch_thr = torch.full((C, F), float("inf"), **z)  # per row: the monitor threshold it reports against
        self.col_gate = torch.full((F,), -1, dtype=torch.long, device=device)  # gate index of a column's pack, or -1
        self.gate_src: list[tuple[int, float, bool, int]] = []  # (column, threshold, apply above?, gate) read here
        self.latch_src: list[tuple[int, float, int]] = []  # (column, threshold, gate): latches read here
        self.carry_src: list[tuple[int, int, bool]] = []  # (column, carry index, first site?): summed features
        self.carry_dst: list[tuple[int, int]] = []  # (column, carry index): summed features read here
        self.has_gated = False  # any column gated (a conditional pack has a site here)
        self.writes = torch.zeros(F, **z)  # 1.0 where the decoder row is non-zero (the receipt counts only those)
        self.edits: set[int] = set()  # rows that add/clamp something here
        self.encodes: set[int] = set()  # rows that clamp or watch here (need the encoder)
        self.watches: set[int] = set()
        self.at_prompt_end = torch.zeros(F, dtype=torch.bool, device=device)  # read_at: "last_prompt_token" columns
        self.has_prompt_end = False  # any such column (a Python flag: no device sync on the per-step path)

    def activation(self, h: torch.Tensor) -> torch.Tensor:
        """``h [N, d]`` → feature activations ``[N, F]`` (ReLU / JumpReLU / identity per column)."""
        pre = h @ self.W_enc + self.b_enc  # [N, F]
        return torch.where(self.linear, pre, pre * (pre > self.thr))

    def fill(self, col: int, kind: str, p: SiteTensors, i: int) -> None:
        """Column ``col`` from feature ``i`` of a pack's tensors at this site (``kind``: the pack's encoder kind)."""
        w_dec = p.W_dec[i]  # [d]
        self.W_dec[col] = w_dec
        if p.W_enc is not None:
            self.W_enc[:, col] = p.W_enc[:, i]
        else:  # a bare direction: the "activation" is the projection coefficient onto the decoder row
            self.W_enc[:, col] = w_dec / w_dec.dot(w_dec)
        if p.b_enc is not None:
            self.b_enc[col] = p.b_enc[i]
        if kind == "sae-jumprelu" and p.threshold is not None:
            self.thr[col] = p.threshold[i]
        self.linear[col] = kind in LINEAR_KINDS

    def sum_sites(self, a: torch.Tensor, carry: torch.Tensor | None) -> None:
        """Summed features (``readout: "sum"``): pass this site's term on in ``carry [N, K]`` (the lowest site
        writes it, later ones add), or at the read site add the carried sum into ``a [N, F]`` (in place)."""
        for col, k, first in self.carry_src:
            carry[:, k] = a[:, col] if first else carry[:, k] + a[:, col]
        for col, k in self.carry_dst:
            a[:, col] += carry[:, k]

    def edit_mask(self, row: torch.Tensor, gates: torch.Tensor | None = None) -> torch.Tensor:
        """``row [N]`` → ``[N, F]`` 1.0 where the op edits that feature at that token (the receipt's count)."""
        m = ((self.add[row] != 0) | (self.clamp_on[row] > 0)).to(self.W_dec.dtype) * self.writes
        return self._gated(m, gates)

    def seen(self, a: torch.Tensor, row: torch.Tensor, prompt_end: torch.Tensor | None = None) -> torch.Tensor:
        """Activations ``a [N, F]`` where each token's row watches that feature, ``-inf`` elsewhere. A column read
        at the last prompt token only (``read_at``) is read where ``prompt_end [N]`` (bool) is true, and nowhere
        when it is None."""
        watch = self.watch[row] > 0
        if self.has_prompt_end:
            end = prompt_end.view(-1, 1) if prompt_end is not None else torch.zeros(1, 1, dtype=torch.bool,
                                                                                       device=a.device)
            watch = watch & (~self.at_prompt_end | end)
        return torch.where(watch, a, float("-inf"))

    def _gated(self, coef: torch.Tensor, gates: torch.Tensor | None) -> torch.Tensor:
        """``coef [N, F]`` with each conditional pack's columns multiplied by its gate ``gates [N, G]``."""
        if gates is None or not self.has_gated:
            return coef
        open_ = gates.to(coef.dtype)[:, self.col_gate.clamp(min=0)]  # [N, F]
        return torch.where(self.col_gate >= 0, coef * open_, coef)

    def write_gates(self, a: torch.Tensor, gates: torch.Tensor | None, latch: Latch | None = None) -> None:
        """At a read site: a latch feature's activation ``a [N, F]`` records where it fires (``latch``: this pass's
        latch state; None: latches do not act), then each condition feature's → its pack's gate (1 = edit), closed
        from the first token its latch fired on."""
        if latch is not None:
            for col, thr, g in self.latch_src:
                latch.fire(g, a[:, col] > thr)
        for col, thr, above, g in self.gate_src:
            holds = (a[:, col] > thr) if above else (a[:, col] < thr)
            gates[:, g] = holds if latch is None else holds & latch.open(g)

    def apply_static(self, h: torch.Tensor, row: torch.Tensor, gates: torch.Tensor | None = None,
                     latch: Latch | None = None, carry: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The fused op with no Python branches (safe inside torch.compile / CUDA graphs): ``h [N, d]``,
        ``row [N]`` → (``delta [N, d]`` to add to the stream, activations ``a [N, F]``). Row-0 tokens get a delta
        of exactly zero. ``gates [N, G]`` (conditional packs) is written at read sites and read everywhere;
        ``latch``: the pass's latch state (conditions with a latch); ``carry [N, K]``: summed features' running sums
        (:meth:`sum_sites`)."""
        a = self.activation(h.to(self.W_enc.dtype))
        if self.gate_src or self.latch_src:
            self.write_gates(a, gates, latch)
        if self.carry_src or self.carry_dst:
            self.sum_sites(a, carry)
        coef = self._gated(self.add[row] + self.clamp_on[row] * (self.clamp_to[row] - a), gates)
        return (coef @ self.W_dec).to(h.dtype), a

    def apply(self, h: torch.Tensor, row: torch.Tensor, rows_present: set[int] | None = None,
              gates: torch.Tensor | None = None, prompt_end: torch.Tensor | None = None, latch: Latch | None = None,
              carry: torch.Tensor | None = None):
        """The fused op. ``h [N, d]``, ``row [N]`` → (steered ``h [N, d]``, ``seen [N, F]`` or None).

        ``rows_present`` (optional, the config rows in this batch) lets eager engines skip work entirely when no
        row in the batch touches this site; static-graph engines pass None and always run the full op.
        ``gates [N, G]``, ``latch``, ``carry``: see :meth:`apply_static`; ``prompt_end [N]``: see :meth:`seen`.
        """
        present = rows_present if rows_present is not None else self.edits | self.encodes
        edits, encodes = bool(present & self.edits), bool(present & self.encodes)
        if not (edits or encodes):
            return h, None
        x = h.to(self.W_enc.dtype)
        a = self.activation(x) if encodes else None  # [N, F]
        if a is not None and (self.gate_src or self.latch_src):
            self.write_gates(a, gates, latch)
        if a is not None and (self.carry_src or self.carry_dst):
            self.sum_sites(a, carry)
        watching = a is not None and bool(present & self.watches)
        seen = self.seen(a, row, prompt_end) if watching else None
        if not edits:
            return h, seen
        coef = self.add[row]  # [N, F]
        if a is not None:
            coef = coef + self.clamp_on[row] * (self.clamp_to[row] - a)
        return h + (self._gated(coef, gates) @ self.W_dec).to(h.dtype), seen
