"""/health tells the truth: 503 ``loading`` while the engine loads (the server already listens), ``failed`` when
it could not load (and the server stops), ``draining`` from the shutdown signal on."""

from __future__ import annotations

import signal
import threading

import httpx

from server.app import build_app
from server.cli.serve import uvicorn_server
from server.engines.fake import FakeEngine
from server.settings import ServerSettings
from tests.conftest import live_server, wait_for


def test_health_is_503_loading_until_the_engine_is_ready(packs):
    gate = threading.Event()

    def factory():
        gate.wait(10)
        return FakeEngine(packs)

    with live_server(build_app(ServerSettings(), engine_factory=factory)) as (base, _):
        r = httpx.get(base + "/health")
        assert (r.status_code, r.json()) == (503, {"status": "loading"})
        r = httpx.get(base + "/v1/models")
        assert r.status_code == 503 and r.json()["error"]["code"] == "model_loading" and "retry-after" in r.headers
        gate.set()
        wait_for(lambda: httpx.get(base + "/health").status_code == 200, "engine ready", 10)
        assert httpx.get(base + "/v1/models").json()["data"][0]["id"] == "fake-model"


def test_a_failed_load_is_reported_and_stops_the_server():
    stopped = []

    def factory():
        raise RuntimeError("no such model directory")

    app = build_app(ServerSettings(), engine_factory=factory, on_load_error=stopped.append)
    with live_server(app) as (base, _):
        wait_for(lambda: stopped, "load error reported", 10)
        r = httpx.get(base + "/health")
        assert (r.status_code, r.json()) == (503, {"status": "failed"})
        assert "no such model directory" in str(app.state.steer.load_error)


def test_draining_starts_at_the_signal(packs):
    from fastapi.testclient import TestClient

    app = build_app(ServerSettings(), FakeEngine(packs))
    with TestClient(app) as c:
        assert c.get("/health").status_code == 200
        uvicorn_server(app, ServerSettings()).handle_exit(signal.SIGTERM, None)
        r = c.get("/health")
        assert (r.status_code, r.json()) == (503, {"status": "draining"})
        r = c.post("/v1/chat/completions", json={"model": "fake-model", "messages": [{"role": "user", "content": "x"}]})
        assert r.status_code == 503 and r.json()["error"]["code"] == "server_shutting_down"
