"""What one forward pass reports per request slot: monitor readouts (max, tokens over threshold, first token over),
receipts (positions the op edited) and latches (the first position a conditional pack's latch fired at), each
reduced over the flattened token batch at one site.

Tokens carry a request slot in ``[0, S]``; slot ``S`` is the discard bucket (padding, attention sinks), dropped
from every result. Both engines' paths build these the same way: the eager hook (:meth:`SteeringRuntime.apply_site`)
and the vLLM worker after a static-graph pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class MonitorReadout:
    """Per-slot reductions of one forward pass at one site: ``max``/``count``/``first`` are ``[S, F]``;
    unwatched entries are ``-inf`` / 0 / -1."""

    layer: int
    max: torch.Tensor
    count: torch.Tensor
    first: torch.Tensor
    _lists: tuple[list, list, list] | None = None
    # per token, only when the batch state asks for it (``keep_tokens``): seen [N, F], slot [N], pos [N]
    tokens: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    @classmethod
    def reduce(cls, layer: int, seen: torch.Tensor, thr: torch.Tensor, slot: torch.Tensor, pos: torch.Tensor,
               S: int, *, keep_tokens: bool = False) -> MonitorReadout:
        """``seen [N, F]`` (``-inf`` where unwatched) against thresholds ``thr`` → the readout of ``S`` slots."""
        return cls(layer, *reduce_per_slot(seen, thr, slot, pos, S), tokens=(seen, slot, pos) if keep_tokens else None)

    def lists(self) -> tuple[list, list, list]:
        """The three tables as nested Python lists, converted once per forward pass (many requests read them)."""
        if self._lists is None:
            self._lists = (self.max.tolist(), self.count.tolist(), self.first.tolist())
        return self._lists


@dataclass
class EditCount:
    """Per-slot receipt of one forward pass at one site: ``count [S, F]`` = positions the op edited."""

    layer: int
    count: torch.Tensor
    _list: list | None = None

    @classmethod
    def reduce(cls, layer: int, edited: torch.Tensor, slot: torch.Tensor, S: int) -> EditCount:
        """``edited [N, F]`` (0/1, :meth:`SiteTable.edit_mask`) → positions edited per slot."""
        return cls(layer, count_per_slot(edited, slot, S))

    def lists(self) -> list:
        if self._list is None:
            self._list = self.count.long().tolist()
        return self._list


def count_per_slot(edited: torch.Tensor, slot: torch.Tensor, S: int) -> torch.Tensor:
    """``edited [N, F]`` (0/1), ``slot [N]`` in ``[0, S]`` → positions edited per slot ``[S, F]``."""
    out = torch.zeros(S + 1, edited.shape[1], dtype=edited.dtype, device=edited.device)
    return out.index_add_(0, slot, edited)[:S]


def reduce_per_slot(seen: torch.Tensor, thr: torch.Tensor, slot: torch.Tensor, pos: torch.Tensor, S: int):
    """Reduce ``seen [N, F]`` per request slot against thresholds ``thr`` (``[N, F]``, each token's row's, or
    ``[F]``). ``slot [N]`` in ``[0, S]`` (``S`` = discard bucket for pads/sinks), ``pos [N]`` the token's index in
    its request. Returns max, tokens over threshold, first token over (or -1)."""
    N, F = seen.shape
    idx = slot.view(N, 1).expand(N, F)
    mx = torch.full((S + 1, F), float("-inf"), dtype=seen.dtype, device=seen.device)
    mx.scatter_reduce_(0, idx, seen, reduce="amax")
    over = seen > thr  # [N, F]
    count = torch.zeros(S + 1, F, dtype=torch.long, device=seen.device).index_add_(0, slot, over.long())
    big = torch.iinfo(torch.long).max
    first = torch.full((S + 1, F), big, dtype=torch.long, device=seen.device)
    first.scatter_reduce_(0, idx, torch.where(over, pos.view(N, 1).expand(N, F), big), reduce="amin")
    first = torch.where(first == big, -1, first)
    return mx[:S], count[:S], first[:S]


NEVER = torch.iinfo(torch.long).max  # a latch's first position when it has not fired


@dataclass
class Latch:
    """Latch state of one forward pass: per token ``slot [N]`` and ``pos [N]`` (position in its request), and per
    request slot and latched gate the first position the latch fired at, ``first [S+1, G]`` (``NEVER``: not yet;
    ``-1``: in an earlier pass). Slot ``S`` is the discard bucket."""

    slot: torch.Tensor
    pos: torch.Tensor
    first: torch.Tensor

    @classmethod
    def new(cls, slot: torch.Tensor, pos: torch.Tensor, S: int, G: int, latched: torch.Tensor | None = None) -> Latch:
        """``latched [k, G]`` (bool, k ≤ S): the latches slots ``0..k-1`` closed in earlier passes."""
        first = torch.full((S + 1, G), NEVER, dtype=torch.long, device=slot.device)
        if latched is not None:
            first[: latched.shape[0]].masked_fill_(latched.to(slot.device), -1)
        return cls(slot, pos, first)

    def reset(self, latched: torch.Tensor | None = None) -> None:
        """In place (static buffers): nothing latched, or ``latched [k, G]`` for slots ``0..k-1``."""
        self.first.fill_(NEVER)
        if latched is not None:
            self.first[: latched.shape[0]].masked_fill_(latched.to(self.first.device), -1)

    def fire(self, g: int, fired: torch.Tensor) -> None:
        """Latch ``g``'s feature fired at the tokens ``fired [N]`` (bool): keep each slot's first such position."""
        fired = fired & (self.pos > 0)  # the attention sink is never read
        self.first[:, g].scatter_reduce_(0, self.slot, torch.where(fired, self.pos, NEVER), "amin")

    def open(self, g: int) -> torch.Tensor:
        """``[N]`` bool: the token comes before its request's latch ``g`` fired (its gate may stay open)."""
        return self.pos < self.first[self.slot, g]

    def latched(self) -> torch.Tensor:
        """``[S+1, G]`` bool: which latches have closed for each request slot, to carry into its next pass."""
        return self.first != NEVER
