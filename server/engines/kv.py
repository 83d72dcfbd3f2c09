"""A left-padded batch of KV caches that requests join and leave between decode steps.

Requests are prefilled in left-padded groups, then their caches join the running batch: all caches are
left-padded to a common length and an attention mask marks the padding. Finished requests leave by
index-select; leading columns that only padding uses are trimmed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import DynamicCache


def cache_tensors(cache: DynamicCache) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(layer.keys, layer.values) for layer in cache.layers]  # each [B, H, T, Dh]


class PaddedBatch:
    def __init__(self) -> None:
        self.kv: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.mask: torch.Tensor | None = None  # [B, T] 1 = real token
        self._cache: DynamicCache | None = None  # reused across decode steps while the rows stay the same

    @property
    def size(self) -> int:
        return 0 if self.mask is None else self.mask.shape[0]

    def join(self, kv: list[tuple[torch.Tensor, torch.Tensor]], mask: torch.Tensor | None = None) -> None:
        """Append caches ``[k, H, p, Dh]`` as the last rows; ``mask [k, p]`` marks their real tokens (default:
        all real, e.g. one request with no padding)."""
        self._cache = None
        k, p = kv[0][0].shape[0], kv[0][0].shape[-2]
        new_mask = torch.ones(k, p, dtype=torch.long) if mask is None else mask
        if self.mask is None:
            self.kv, self.mask = list(kv), new_mask
            return
        T = self.mask.shape[1]
        L = max(T, p)

        def pad(x: torch.Tensor, n: int) -> torch.Tensor:  # left-pad the sequence dim (-2) of [B, H, T, Dh]
            return F.pad(x, (0, 0, n, 0)) if n else x

        self.kv = [
            (torch.cat([pad(k, L - T), pad(nk, L - p)]), torch.cat([pad(v, L - T), pad(nv, L - p)]))
            for (k, v), (nk, nv) in zip(self.kv, kv, strict=True)
        ]
        self.mask = torch.cat([F.pad(self.mask, (L - T, 0)), F.pad(new_mask, (L - p, 0))])

    def keep(self, rows: list[int]) -> None:
        """Keep only ``rows`` (in order); drop columns that are padding for every remaining row."""
        self._cache = None
        if not rows:
            self.kv, self.mask = [], None
            return
        idx = torch.tensor(rows)
        mask = self.mask.index_select(0, idx)
        start = int(mask.any(0).long().argmax())  # first column some row uses
        self.mask = mask[:, start:]
        self.kv = [(k.index_select(0, idx)[:, :, start:], v.index_select(0, idx)[:, :, start:]) for k, v in self.kv]

    def select(self, row: int) -> PaddedBatch:
        """A new one-row batch holding a copy of ``row`` (its padding trimmed)."""
        out = PaddedBatch()
        out.kv, out.mask = list(self.kv), self.mask
        out.keep([row])
        return out

    def cache(self) -> DynamicCache:
        """The cache for the next step: the previous step's object while the rows are unchanged (building one is
        per-layer Python work on every step), else a new one over ``kv``."""
        if self._cache is None:
            self._cache = DynamicCache(ddp_cache_data=self.kv)
        return self._cache

    def absorb(self, cache: DynamicCache) -> None:
        """After a decode step: take the grown cache back and extend the mask by one real column."""
        self.kv, self._cache = cache_tensors(cache), cache
        self.mask = F.pad(self.mask, (0, 1), value=1)

    def discard_cache(self) -> None:
        """A step failed part-way (some layers may have grown the cache): rebuild from ``kv``, untouched."""
        self._cache = None
