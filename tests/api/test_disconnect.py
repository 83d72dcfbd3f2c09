"""Catalogue F/H over a real socket (uvicorn in a thread, fake engine): disconnects abort, rows are freed."""

from __future__ import annotations

import httpx
import pytest

from server.app import build_app
from server.engines.fake import FakeEngine
from server.settings import ServerSettings
from tests.conftest import live_server, wait_for


@pytest.fixture
def live(packs):
    engine = FakeEngine(packs, delay=0.02)
    with live_server(build_app(ServerSettings(), engine)) as (base, _):
        yield base, engine


BODY = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 500}
STEER = {"X-Steering": "topic/f0:add=1x"}


def test_disconnect_after_first_chunk_aborts_and_frees_the_row(live):
    base, engine = live
    with httpx.Client() as c, c.stream("POST", base + "/v1/chat/completions", json={**BODY, "stream": True},
                                       headers=STEER) as r:
        lines = r.iter_lines()  # keep the iterator: a discarded one is closed, and that closes the response
        first = next(lines)
        assert r.status_code == 200 and first.startswith("data: "), (r.status_code, first[:300])
        assert engine.runtime.rows.in_use() == 1 and engine.batch_size == 1
        assert "steerserve_steering_config_rows 1.0" in httpx.get(base + "/metrics").text
    wait_for(lambda: engine.runtime.rows.in_use() == 0 and engine.batch_size == 0, "row freed after disconnect")
    metrics = httpx.get(base + "/metrics").text
    assert "steerserve_engine_batch_size 0.0" in metrics and "steerserve_steering_config_rows 0.0" in metrics


def test_disconnect_of_non_streaming_request_aborts(live):
    base, engine = live
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(base + "/v1/chat/completions", json=BODY, headers=STEER, timeout=0.3)
    wait_for(lambda: engine.runtime.rows.in_use() == 0 and engine.batch_size == 0, "row freed after disconnect")
    r = httpx.post(base + "/v1/chat/completions", json={**BODY, "max_tokens": 3}, timeout=5)
    assert r.status_code == 200  # and the server still serves
