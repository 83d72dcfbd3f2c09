"""Catalogue B and I on the fake engine: OpenAI parameter bounds, context length, n, logprobs, metric labels."""

from __future__ import annotations

from fastapi.testclient import TestClient

from server.app import build_app
from server.engines.fake import FakeEngine
from server.settings import ServerSettings
from tests.api.conftest import chat


def test_max_tokens_bounds(client):
    for bad in (0, -1, 2**63):
        r = chat(client, max_tokens=bad)
        assert r.status_code == 400 and r.json()["error"]["param"] == "max_tokens", (bad, r.text)
    assert chat(client, max_tokens=1).status_code == 200


def test_context_length_exceeded(packs):
    with TestClient(build_app(ServerSettings(), FakeEngine(packs, max_model_len=64))) as c:
        r = chat(c, messages=[{"role": "user", "content": "x" * 200}])
        assert r.status_code == 400 and r.json()["error"]["code"] == "context_length_exceeded"


def test_n_boundary_and_choices(client):
    r = chat(client, n=8, max_tokens=3)
    assert r.status_code == 200 and [c["index"] for c in r.json()["choices"]] == list(range(8))
    assert r.json()["usage"]["completion_tokens"] == 24
    assert chat(client, n=9).status_code == 400
    assert chat(client, n=0).status_code == 400


def test_sampling_parameter_bounds(client):
    for field, bad in (("temperature", -0.1), ("temperature", 2.5), ("top_p", 0), ("top_p", 1.5)):
        assert chat(client, **{field: bad}).status_code == 400, (field, bad)
    r = client.post("/v1/chat/completions", content=b'{"model": "fake-model", "messages": [{"role": "user", '
                    b'"content": "hi"}], "temperature": NaN}', headers={"content-type": "application/json"})
    assert r.status_code == 400


def test_stop_list_bounds(client):
    assert chat(client, stop=["x"] * 16).status_code == 200
    r = chat(client, stop=["x"] * 10_000)
    assert r.status_code == 400 and r.json()["error"]["param"] == "stop"
    assert chat(client, stop="fr", max_tokens=20).json()["choices"][0]["message"]["content"] == "Hello "


def test_logprobs_bounds(client):
    assert chat(client, logprobs=True, top_logprobs=20).status_code == 200
    assert chat(client, logprobs=True, top_logprobs=21).status_code == 400
    r = chat(client, top_logprobs=2)
    assert r.status_code == 400 and r.json()["error"]["param"] == "top_logprobs"


def test_unknown_fields_accepted_but_not_inside_steering(client):
    assert chat(client, frequency_penalty=0.0, some_future_field={"a": 1}).status_code == 200
    r = chat(client, steering={"features": [{"feature": "topic/f0", "op": "add", "value": 1, "extra": True}]})
    assert r.status_code == 400 and r.json()["error"]["param"].startswith("steering.features")


def test_unknown_packs_add_no_metric_series(client):
    chat(client, {"X-Steering": "random-pack-x/f:add=1"})
    client.get("/metrics")

    def series():
        return {line.rsplit(" ", 1)[0] for line in client.get("/metrics").text.splitlines() if line[:1] != "#"}

    before = series()
    for i in range(200):
        chat(client, {"X-Steering": f"random-pack-{i}/f:add=1"})
    after = series()
    assert not any("random-pack" in s for s in after)
    assert after == before


