"""Admission control over a real socket: past max_num_seqs + max_waiting generations, 429 server_overloaded with
Retry-After (never an unbounded queue), counted in /metrics; places come back when requests end or disconnect."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from server.app import build_app
from server.engines.fake import FakeEngine
from server.policy import PolicyConfig
from server.settings import ServerSettings
from tests.conftest import live_server, wait_for

BODY = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20}


@pytest.fixture
def live(packs):
    """max_num_seqs 2 + max_waiting 1 (from the policy file, which wins over the setting): 3 generations."""
    app = build_app(ServerSettings(max_num_seqs=2, max_waiting=50), FakeEngine(packs, delay=0.05),
                    policy=PolicyConfig.model_validate({"server": {"max_waiting": 1}}))
    with live_server(app) as (base, _):
        yield base, app.state.steer


def test_overload_is_answered_429_with_retry_after_and_counted(live):
    base, state = live

    async def burst():
        async with httpx.AsyncClient(base_url=base, timeout=30) as c:
            return await asyncio.gather(*(c.post("/v1/chat/completions", json=BODY) for _ in range(8)))

    rs = asyncio.run(burst())
    codes = sorted(r.status_code for r in rs)
    assert codes.count(200) >= 3 and codes.count(429) >= 1 and set(codes) == {200, 429}
    for r in rs:
        if r.status_code == 429:
            err = r.json()["error"]
            assert err["code"] == "server_overloaded" and err["type"] == "rate_limit_error"
            assert "limit 3" in err["message"]
            assert int(r.headers["retry-after"]) > 0
    assert state.service.admission.in_flight == 0
    metrics = httpx.get(base + "/metrics").text
    assert f'steerserve_requests_rejected_total{{reason="server_overloaded"}} {codes.count(429)}.0' in metrics
    assert "steerserve_requests_in_flight 0.0" in metrics
    assert httpx.post(base + "/v1/chat/completions", json=BODY, timeout=30).status_code == 200


def test_streams_hold_places_until_they_end_or_the_client_leaves(live):
    base, state = live
    with httpx.Client(base_url=base, timeout=30) as c:
        streams = [c.stream("POST", "/v1/chat/completions", json={**BODY, "max_tokens": 400, "stream": True})
                   for _ in range(3)]
        for s in streams:
            assert s.__enter__().status_code == 200
        r = c.post("/v1/chat/completions", json={**BODY, "stream": True})
        assert r.status_code == 429 and r.json()["error"]["code"] == "server_overloaded"
        for s in streams:
            s.__exit__(None, None, None)  # the client goes away mid-stream
    wait_for(lambda: state.service.admission.in_flight == 0, "places released", 10)
    assert httpx.post(base + "/v1/chat/completions", json=BODY, timeout=30).status_code == 200
