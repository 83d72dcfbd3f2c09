"""The HTTP surface on the fake engine: routes, steering header/body, errors, streaming, metrics."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import chat


def test_health_models_packs(client):
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/v1/models").json()["data"][0]["id"] == "fake-model"
    packs = client.get("/v1/steering/packs").json()
    assert packs["object"] == "list"
    assert {p["id"] for p in packs["data"]} == {"topic", "safety"}
    f = packs["data"][0]["features"][0]
    assert set(f) >= {"name", "label", "default_op", "default_value", "max_activation", "threshold"}
    assert client.get("/v1/steering/packs/safety").json()["id"] == "safety"
    r = client.get("/v1/steering/packs/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_feature_pack"


def test_unsteered_chat(client):
    r = chat(client)
    assert r.status_code == 200
    body = r.json()
    assert body["choices"][0]["message"]["content"] == "Hello fr"
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["steering"] == {"applied": [], "monitors": {}, "alerts": []}
    assert "x-steering-applied" not in r.headers


def test_header_steering_changes_output_and_is_reported(client):
    r = chat(client, {"X-Steering": "topic/f0:add=1x"})
    assert r.status_code == 200
    assert r.json()["choices"][0]["message"]["content"].startswith("Steered")
    # the receipt: every position the model ran but the attention sink was edited (the last sampled token is
    # never fed back)
    u = r.json()["usage"]
    edited = u["prompt_tokens"] - 1 + u["completion_tokens"] - 1
    assert r.json()["steering"]["applied"] == [{"feature": "topic/f0", "op": "add", "value": 2.0,
                                                 "positions": edited}]
    assert r.headers["x-steering-applied"] == "topic/f0:add=2"


def test_monitor_reports_and_alerts(client):
    r = chat(client, {"X-Steering": "safety:monitor"})
    mons = r.json()["steering"]["monitors"]
    assert set(mons) == {"safety/f0", "safety/f1"}
    for m in mons.values():
        assert set(m) >= {"max", "prompt_max", "completion_max", "threshold", "fired", "tokens_over"}
        assert m["fired"] == (m["tokens_over"] > 0)
    fired = [k for k, m in mons.items() if m["fired"]]
    assert [a["feature"] for a in r.json()["steering"]["alerts"]] == fired
    if fired:
        assert "x-steering-alerts" in r.headers


def test_body_steering_object_and_string_and_header_precedence(client):
    obj = chat(client, steering={"features": [{"feature": "topic/f0", "op": "add", "value": "1x"}]}).json()
    assert obj["steering"]["applied"][0]["value"] == 2.0
    s = chat(client, steering="topic/f0:add=1x").json()
    assert s["steering"]["applied"] == obj["steering"]["applied"]
    both = chat(client, {"X-Steering": "topic/f0:add=0.5x"}, steering="topic/f0:add=1x").json()
    assert both["steering"]["applied"][0]["value"] == 1.0


def test_empty_steering_is_unsteered(client):
    plain = chat(client).json()["choices"][0]["message"]["content"]
    assert chat(client, steering={}).json()["choices"][0]["message"]["content"] == plain
    assert chat(client, {"X-Steering": ""}).json()["choices"][0]["message"]["content"] == plain


def test_steering_errors(client):
    cases = [
        ({"X-Steering": "no-such-pack:add=1"}, 404, "unknown_feature_pack"),
        ({"X-Steering": "topic/nope:add=1"}, 400, "unknown_feature"),
        ({"X-Steering": "topic/f0:clamp=oops"}, 400, "invalid_steering_spec"),
        ({"X-Steering": ":::"}, 400, "invalid_steering_spec"),
        ({"X-Steering": "topic/f0:add=1e308"}, 400, "steering_value_out_of_range"),
        ({"X-Steering-Profile": "nope"}, 400, "unknown_steering_profile"),
    ]
    for headers, status, code in cases:
        r = chat(client, headers)
        assert r.status_code == status, (headers, r.text)
        err = r.json()["error"]
        assert err["code"] == code and err["message"] and err["type"]
    r = chat(client, steering={"features": [], "bogus": 1})
    assert r.status_code == 400 and r.json()["error"]["param"] == "steering.bogus"
    assert chat(client).status_code == 200  # and a plain request still works


def test_protocol_errors(client):
    r = client.post("/v1/chat/completions", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request_error"
    assert chat(client, messages=[]).status_code == 400
    assert chat(client, model="nope").status_code == 404
    assert chat(client, max_tokens=0).status_code == 400
    assert chat(client, temperature=-1).status_code == 400
    assert chat(client, stream_options={"include_usage": True}).status_code == 400


def test_stream_frames_done_and_summary(client):
    with client.stream("POST", "/v1/chat/completions", headers={"X-Steering": "safety:monitor"},
                       json={"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8,
                             "stream": True, "stream_options": {"include_usage": True}}) as r:
        raw = "".join(r.iter_text())
    frames = raw.split("\n\n")
    assert frames[-1] == "" and frames[-2] == "data: [DONE]"
    chunks = [json.loads(f[6:]) for f in frames[:-2]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "Hello fr"
    assert "steering" in chunks[-1] and "monitors" in chunks[-1]["steering"]
    assert chunks[-1]["usage"]["completion_tokens"] == 8


def test_completions_route(client):
    r = client.post("/v1/completions", json={"model": "fake-model", "prompt": "abc", "max_tokens": 5,
                                             "temperature": 0})
    assert r.status_code == 200 and r.json()["choices"][0]["text"] == "Hello"


def test_metrics_count_requests(client):
    chat(client)
    chat(client, {"X-Steering": "topic/f0:add=1"})
    chat(client, {"X-Steering": "nope:add=1"})
    text = client.get("/metrics").text
    assert 'steerserve_requests_total{route="/v1/chat/completions",status="200"} 2.0' in text
    assert 'steerserve_requests_total{route="/v1/chat/completions",status="404"} 1.0' in text
    assert 'steerserve_steered_requests_total{pack="topic"} 1.0' in text
    assert "nope" not in text


def test_wrong_content_type_and_non_object_bodies(client):
    r = client.post("/v1/chat/completions", content=b"hello", headers={"content-type": "text/plain"})
    assert 400 <= r.status_code < 500 and isinstance(r.json()["error"]["code"], str)
    for body in (b"[]", b"", b"null", b"42"):
        r = client.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400, body
    r = chat(client, messages=[{"role": "wizard", "content": "hi"}])
    assert r.status_code == 400 and r.json()["error"]["param"].startswith("messages")


def test_cors_is_off_by_default(client):
    r = client.options("/v1/chat/completions", headers={"Origin": "https://evil.example",
                                                         "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers


def test_an_engine_error_mid_stream_goes_in_band_then_done(client, monkeypatch):
    engine = client.app.state.steer.engine
    original = engine.generate

    async def failing(req):
        n = 0
        async for d in original(req):
            yield d
            n += 1
            if n == 3:
                raise RuntimeError("engine fell over")

    monkeypatch.setattr(engine, "generate", failing)
    with client.stream("POST", "/v1/chat/completions", json={"model": "fake-model", "stream": True, "max_tokens": 20,
                                                             "messages": [{"role": "user", "content": "hi"}]}) as r:
        frames = [f for f in "".join(r.iter_text()).split("\n\n") if f]
    assert r.status_code == 200 and frames[-1] == "data: [DONE]"
    finishes = [json.loads(f[6:])["choices"][0]["finish_reason"] for f in frames[:-1]
                if json.loads(f[6:])["choices"]]
    assert finishes[-1] == "error"
    monkeypatch.undo()
    assert chat(client).status_code == 200  # the server goes on


def test_pack_route_shows_no_file_system_paths(client):
    """Provenance written by a build (e.g. ``steer sae label --sae /root/.cache/...``) reaches clients with every
    absolute path cut to its last component."""
    import dataclasses

    packs = client.app.state.steer.engine.runtime.packs
    pack = packs["topic"]
    m = pack.manifest
    packs["topic"] = dataclasses.replace(pack, manifest=m.model_copy(update={"provenance": m.provenance.model_copy(
        update={"command": "steer sae label --sae /root/.cache/steerserve/sae/l15-8k --out-pack feature_packs/x",
                "source": str(pack.path)})}))
    try:
        body = client.get("/v1/steering/packs/topic").json()
    finally:
        packs["topic"] = pack
    assert body["provenance"]["command"] == "steer sae label --sae <path>/l15-8k --out-pack feature_packs/x"
    assert body["provenance"]["source"] == "<path>/topic"
    assert str(pack.path.parent) not in str(body)


def test_receipts_expose_steering_that_was_silently_not_applied(client, monkeypatch):
    """If the op never runs (a hook dropped by compilation, a second runner...), the receipt says 0 positions, the
    server logs it and counts it; streaming carries the same receipt on its last chunk."""
    stream = client.post("/v1/chat/completions", headers={"X-Steering": "topic/f0:add=1x"},
                         json={"model": "fake-model", "messages": [{"role": "user", "content": "hi"}],
                               "max_tokens": 4, "stream": True})
    last = json.loads([x for x in stream.text.split("\n\n") if x.startswith("data: {")][-1][6:])
    assert last["steering"]["applied"][0]["positions"] > 0
    assert 'steerserve_steering_not_applied_total{pack="topic"}' not in client.get("/metrics").text
    rt = client.app.state.steer.engine.runtime
    monkeypatch.setattr(rt, "apply_site", lambda layer, h: h)  # the op silently never runs
    r = chat(client, {"X-Steering": "topic/f0:add=1x"})
    assert r.json()["steering"]["applied"][0]["positions"] == 0
    assert 'steerserve_steering_not_applied_total{pack="topic"} 1.0' in client.get("/metrics").text


def test_a_monitor_read_at_the_last_prompt_token_reads_that_token_only(pack_factory):
    """``read_at: "last_prompt_token"``: the per-token report has a reading at the prompt's last token and no other;
    the summary's max is that reading and ``completion_max`` stays null."""
    from fastapi.testclient import TestClient

    from server.app import build_app
    from server.engines.fake import FakeEngine
    from server.settings import ServerSettings

    packs = [pack_factory("scope", kind="probe", n_features=1, read_at="last_prompt_token", seed=2)]
    with TestClient(build_app(ServerSettings(), FakeEngine(packs))) as c:
        assert c.get("/v1/steering/packs/scope").json()["features"][0]["read_at"] == "last_prompt_token"
        r = chat(c, steering={"features": [{"feature": "scope/f0", "op": "monitor"}], "report": "tokens"},
                 max_tokens=4, ignore_eos=True).json()
        read = [t for t in r["steering"]["tokens"] if t["readings"]]
        assert [t["index"] for t in read] == [r["usage"]["prompt_tokens"] - 1]
        m = r["steering"]["monitors"]["scope/f0"]
        assert m["max"] == m["prompt_max"] == pytest.approx(read[0]["readings"]["scope/f0"], abs=1e-5)
        assert m["completion_max"] is None


def test_a_prompt_only_feature_edits_the_prompt_and_nothing_after(pack_factory):
    """``apply_to: "prompt"``: the receipt counts the prompt's positions (the sink excepted), none of the reply's;
    the same direction with ``apply_to: "all"`` also edits every generated token fed back."""
    from fastapi.testclient import TestClient

    from server.app import build_app
    from server.engines.fake import FakeEngine
    from server.settings import ServerSettings

    packs = [pack_factory("say", kind="direction", n_features=1, apply_to="prompt", seed=3),
             pack_factory("everywhere", kind="direction", n_features=1, seed=3)]
    with TestClient(build_app(ServerSettings(), FakeEngine(packs))) as c:
        assert c.get("/v1/steering/packs/say").json()["features"][0]["apply_to"] == "prompt"
        body = {"max_tokens": 5, "ignore_eos": True}
        prompt = chat(c, **body).json()["usage"]["prompt_tokens"]
        r = chat(c, {"X-Steering": "say/f0:add=1x, everywhere/f0:add=1x"}, **body).json()
        got = {a["feature"]: a["positions"] for a in r["steering"]["applied"]}
        assert got == {"say/f0": prompt - 1, "everywhere/f0": prompt - 1 + 5 - 1}
        assert c.app.state.steer.engine.steering_state() == (0, 1)  # both rows given back
