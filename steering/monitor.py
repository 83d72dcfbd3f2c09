"""Per-request monitor aggregation: fold each forward pass's per-slot readouts into a request's running summary.

A monitored feature *fires* when its activation exceeds the feature's calibrated threshold on some token; the
first such token produces one event (per-request de-duplication), later tokens only update the counts.

>>> mon = RequestMonitor({("safety", "unsafe-code"): column})    # doctest: +SKIP
>>> events = mon.update(readouts, slot=3, phase="completion")      # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from steering.runtime import Column, FeatureRef, MonitorReadout


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

    def __init__(self, watched: Mapping[FeatureRef, Column]) -> None:
        self.columns = dict(watched)
        self.readings = {ref: FeatureReading(threshold=c.threshold) for ref, c in self.columns.items()}
        self._by_layer: dict[int, list[FeatureRef]] = {}
        for ref, c in self.columns.items():
            self._by_layer.setdefault(c.layer, []).append(ref)

    def update(self, readouts: list[MonitorReadout], slot: int, phase: str) -> list[MonitorEvent]:
        """Fold one forward pass into the summary; returns features that fired for the first time."""
        events = []
        for r in readouts:
            refs = self._by_layer.get(r.layer, ())
            if not refs:
                continue
            maxes, counts, firsts = r.lists()
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

    def summary(self) -> dict[str, dict]:
        return {f"{p}/{f}": rd.as_dict() for (p, f), rd in self.readings.items()}
