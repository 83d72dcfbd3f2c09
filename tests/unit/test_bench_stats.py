"""The load benchmark's statistics: percentiles and TPOT as vLLM defines it, on made-up requests."""

from __future__ import annotations

import pytest

from steerlab.bench.load import Req, pct, summarize


def test_percentiles_and_tpot_per_request():
    assert pct([5.0, 1.0, 3.0], 50) == 3.0 and pct([1.0, 2.0], 99) == 2.0
    reqs = [Req(ttft=0.5, e2e=2.5, itl=[0.5] * 4, tokens=5), Req(ttft=1.0, e2e=2.0, itl=[0.25] * 4, tokens=5),
            Req(ok=False)]
    s = summarize("x", "y", reqs, wall=2.0)
    assert s["n"] == 3 and s["errors"] == 1 and s["tps"] == 5.0
    assert sorted([s["tpot50"], s["tpot99"]]) == pytest.approx([0.25, 0.5])  # (e2e − TTFT) ÷ (tokens − 1)
    assert s["ttft50"] == 0.5 and s["e2e50"] == 2.0
