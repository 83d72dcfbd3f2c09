"""Per-request monitor aggregation: fold each forward pass's per-slot readouts into a request's running summary.

A monitored feature *fires* when its activation exceeds the request's threshold for it (the value of its
``monitor`` entry: the pack's calibrated threshold unless policy overrides it) on some token; the first such token
produces one event (per-request de-duplication), later tokens only update the counts.

>>> mon = RequestMonitor.of(config, runtime.columns)                # doctest: +SKIP
>>> events = mon.update(readouts, slot=3, phase="completion")      # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from steering.config import FeatureRef, ResolvedConfig, edited, watched
from steering.readout import EditCount, MonitorReadout
from steering.site_table import Column


@dataclass
class FeatureReading:
    threshold: float
    max: float = -math.inf
    prompt_max: float = -math.inf
    completion_max: float = -math.inf
    tokens_over: int = 0
    first_token: int | None = None

    @property
    def fired(self) -> bool:
        return self.first_token is not None

    def as_dict(self) -> dict:
        def f(v: float) -> float | None:
            return None if math.isinf(v) else round(v, 6)

        return {
            "max": f(self.max),
            "prompt_max": f(self.prompt_max),
            "completion_max": f(self.completion_max),
            "threshold": f(self.threshold),
            "fired": self.fired,
            "tokens_over": self.tokens_over,
            "first_token": self.first_token,
        }


@dataclass(frozen=True)
class MonitorEvent:
    feature: FeatureRef
    token_index: int  # position in the request's token stream (prompt tokens first)
    value: float
    phase: str  # "prompt" | "completion"
    threshold: float | None = None

    @property
    def name(self) -> str:
        return f"{self.feature[0]}/{self.feature[1]}"


class RequestMonitor:
    """Running monitor state of one request over the features it watches."""

    def __init__(self, watched: Mapping[FeatureRef, Column],
                 thresholds: Mapping[FeatureRef, float] | None = None, *, trace: bool = False) -> None:
        """``trace``: also keep every token's reading (``tokens()``), from readouts that carry them."""
        self.columns = dict(watched)
        self.trace: dict[FeatureRef, dict[int, float]] | None = {ref: {} for ref in self.columns} if trace else None
        thr = thresholds or {}
        self.readings = {ref: FeatureReading(threshold=thr.get(ref, c.threshold)) for ref, c in self.columns.items()}
        self._by_layer: dict[int, list[FeatureRef]] = {}
        for ref, c in self.columns.items():
            self._by_layer.setdefault(c.layer, []).append(ref)

    @classmethod
    def of(cls, config: ResolvedConfig, columns: Mapping[FeatureRef, Column], trace: bool = False) -> RequestMonitor:
        """The monitor of a request's config: its ``monitor`` entries, each with its threshold (falsy when the
        config watches nothing)."""
        thr = watched(config)
        return cls({ref: columns[ref] for ref in thr}, thr, trace=trace)

    def __bool__(self) -> bool:
        return bool(self.columns)

    def update(self, readouts: list[MonitorReadout], slot: int, phase: str) -> list[MonitorEvent]:
        """Fold one forward pass into the summary; returns features that fired for the first time."""
        events = []
        for r in readouts:
            refs = self._by_layer.get(r.layer, ())
            if not refs:
                continue
            maxes, counts, firsts = r.lists()
            if self.trace is not None and r.tokens is not None:
                self._keep_tokens(r, refs, slot)
            for ref in refs:
                col = self.columns[ref].col
                mx = maxes[slot][col]
                if mx == -math.inf:
                    continue
                rd = self.readings[ref]
                rd.max = max(rd.max, mx)
                if phase == "prompt":
                    rd.prompt_max = max(rd.prompt_max, mx)
                else:
                    rd.completion_max = max(rd.completion_max, mx)
                n = counts[slot][col]
                rd.tokens_over += n
                if n and rd.first_token is None:
                    rd.first_token = firsts[slot][col]
                    events.append(MonitorEvent(ref, rd.first_token, mx, phase, rd.threshold))
        return events

    def _keep_tokens(self, r: MonitorReadout, refs: list[FeatureRef], slot: int) -> None:
        seen, slots, pos = r.tokens
        mine = slots == slot
        at = pos[mine].tolist()
        for ref in refs:
            for p, v in zip(at, seen[mine, self.columns[ref].col].tolist(), strict=True):
                if v != -math.inf:  # not read there (``read_at``)
                    self.trace[ref][p] = v

    def summary(self) -> dict[str, dict]:
        return {f"{p}/{f}": rd.as_dict() for (p, f), rd in self.readings.items()}

    def tokens(self) -> dict[str, dict[int, float]] | None:
        """Per-token readings (token index in the request → value; the sink and unread tokens absent), if traced."""
        if self.trace is None:
            return None
        return {f"{p}/{f}": dict(sorted(t.items())) for (p, f), t in self.trace.items()}


class AppliedCounter:
    """The receipt of one request: per feature of its config, how many token positions the op edited (for a
    multi-site feature: at every one of its sites with a non-zero decoder row, the minimum over them). Counted from
    what the op reports each forward pass (:class:`EditCount`), so a hook that never ran, a row that was never
    written or a compiled graph that dropped the op all show as 0."""

    def __init__(self, config: ResolvedConfig, columns: Mapping[FeatureRef, Column]) -> None:
        self.columns = columns
        self.per_site: dict[FeatureRef, dict[int, int]] = {}  # ref -> layer -> positions edited there
        self._edits: dict[FeatureRef, Column] = {}
        self.set_config(config)

    def set_config(self, config: ResolvedConfig) -> None:
        """The request's config changed (conditional steering): count the new features from now on."""
        for ref in config:
            self.per_site.setdefault(ref, {})
        self._edits = {ref: self.columns[ref] for ref in edited(config)}

    def update(self, counts: list[EditCount], slot: int) -> None:
        for r in counts:
            rows = None
            for ref, c in self._edits.items():
                for layer, col in c.at:
                    if layer == r.layer:
                        rows = rows or r.lists()
                        n = self.per_site[ref]
                        n[layer] = n.get(layer, 0) + rows[slot][col]

    @property
    def positions(self) -> dict[FeatureRef, int]:
        """Per feature: positions edited at every site where its decoder row can move the stream (0 if none)."""
        out = {}
        for ref, n in self.per_site.items():
            layers = self.columns[ref].writes_at
            out[ref] = min(n.get(layer, 0) for layer in layers) if n and layers else 0
        return out

    def as_dict(self) -> dict[str, int]:
        return {f"{p}/{f}": n for (p, f), n in self.positions.items()}
