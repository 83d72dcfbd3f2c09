"""The HF engine's live steering tables: the current one plus, after a pack reload, older ones until the last request
that started on them finishes. Each table has its own hooks on the model; a token's row is 0 (a no-op) in every
table but its request's, so requests in flight keep the packs they started with.
"""

from __future__ import annotations

import threading

from steering.config import ResolvedConfig
from steering.hooks import attach
from steering.pack import FeaturePack
from steering.runtime import SteeringRuntime


class LiveTables:
    """``len()`` = tables alive. ``add`` makes a new current table; ``retire`` takes old idle ones off the model."""

    def __init__(self, model, d_model: int, *, max_configs: int, max_slots: int) -> None:
        self.model, self.d_model, self.max_configs, self.max_slots = model, d_model, max_configs, max_slots
        self._live: dict[int, tuple[SteeringRuntime, object, int]] = {}  # id → (runtime, hooks, requests)
        self._meta = threading.Lock()  # guards the current-table pointer and per-table request counts (cheap)
        self.current: SteeringRuntime | None = None

    def __len__(self) -> int:
        return len(self._live)

    def add(self, packs: list[FeaturePack]) -> SteeringRuntime:
        """A table for ``packs``, hooked, and current from now on (the caller holds the engine's step lock)."""
        rt = SteeringRuntime(packs, self.d_model, max_configs=self.max_configs, max_slots=self.max_slots)
        hooks = attach(self.model, rt)
        hooks.__enter__()
        with self._meta:
            self._live[id(rt)] = (rt, hooks, 0)
            self.current = rt
        return rt

    def acquire(self, config: ResolvedConfig) -> tuple[SteeringRuntime, int]:
        """A new request's table (the current one) and its config row there. Raises CapacityExceeded."""
        with self._meta:
            rt = self.current
            row = rt.rows.acquire(config)
            self._count(rt, 1)
        return rt, row

    def release(self, rt: SteeringRuntime, row: int) -> None:
        """A request on ``rt`` ended: give its row back."""
        rt.rows.release(row)
        with self._meta:
            self._count(rt, -1)

    def _count(self, rt: SteeringRuntime, delta: int) -> None:
        r, h, n = self._live[id(rt)]
        self._live[id(rt)] = (r, h, n + delta)

    def retire(self) -> None:
        """Take the hooks of old tables off once no request uses them (worker thread or under the step lock)."""
        with self._meta:
            gone = [k for k, (rt, _, n) in self._live.items() if rt is not self.current and n == 0]
            retired = [self._live.pop(k)[1] for k in gone]
        for hooks in retired:
            hooks.__exit__(None, None, None)

    def state(self) -> tuple[int, int]:
        """(config rows held, tables alive)."""
        with self._meta:
            tables = [rt for rt, _, _ in self._live.values()]
        return sum(rt.rows.in_use() for rt in tables), len(tables)

    def close(self) -> None:
        """Every table's hooks off (engine shutdown)."""
        for _, hooks, _ in self._live.values():
            hooks.__exit__(None, None, None)
        self._live.clear()
