"""Catalogue D and policy: keys, admin routes, mandatory monitors, profiles, defaults, bounds, actions."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from server.app import build_app
from server.engines.fake import FakeEngine
from server.playground.api_router import PLAYGROUND_PATHS
from server.policy import PolicyConfig, hash_key, load_policy
from server.settings import ServerSettings
from tests.api.conftest import chat

ADMIN, INFER, LIMITED = "admin-secret", "infer-secret", "limited-secret"


def policy(**over) -> PolicyConfig:
    base = {
        "steering": {
            "defaults": "",
            "mandatory_monitors": ["safety/f0"],
            "max_x": 50,
            "pack_max_x": {"topic": 3},
            "profiles": {"support-bot": {"description": "stay on topic", "steering": "topic/f0:add=1x"}},
        },
        "monitors": {"safety/f0": {"action": "block", "threshold": -1000.0},
                     "safety/f1": {"action": "steer", "threshold": -1000.0, "steer": "topic/f0:add=1x"}},
        "keys": {"admin": [{"name": "ops", "sha256": hash_key(ADMIN)}],
                 "inference": [{"name": "app", "sha256": hash_key(INFER)},
                               {"name": "limited", "sha256": hash_key(LIMITED), "packs": ["safety"]}]},
        "alerts": {"log": True},
    }
    for k, v in over.items():
        base[k] = v
    return PolicyConfig.model_validate(base)


@pytest.fixture
def make_client(packs, tmp_path):
    def make(cfg: PolicyConfig):
        return TestClient(build_app(ServerSettings(packs=str(tmp_path)), FakeEngine(packs), policy=cfg))

    return make


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def test_every_route_but_the_public_list_needs_a_key(make_client):
    with make_client(policy()) as c:
        public = {"/health", "/metrics"} | PLAYGROUND_PATHS  # the page's static files; its API calls need the key
        for route in c.app.routes:
            path = getattr(route, "path", None)
            if path is None or path in public:
                continue
            url = path.replace("{pack_id}", "safety").replace("{feature}", "f0")
            for method in getattr(route, "methods", {"GET"}) - {"HEAD"}:
                r = c.request(method, url)
                assert r.status_code == 401, (method, url, r.status_code)
                assert r.json()["error"]["code"] == "invalid_api_key"
        assert c.get("/health").status_code == 200
        assert c.get("/v1/models", headers=auth("wrong")).status_code == 401
        assert c.get("/v1/models", headers=auth(INFER)).status_code == 200


def test_inference_key_cannot_use_admin_routes(make_client):
    with make_client(policy()) as c:
        r = c.post("/admin/packs/reload", headers=auth(INFER))
        assert r.status_code == 403 and r.json()["error"]["code"] == "admin_key_required"
        assert c.post("/admin/packs/reload", headers=auth(ADMIN)).status_code == 200


@pytest.mark.parametrize("keys", [{}, {"inference": [{"name": "app", "sha256": hash_key(INFER)}]}],
                         ids=["no keys", "inference keys only"])
def test_admin_routes_are_closed_without_an_admin_key(make_client, keys):
    """Closed by default: with no admin key configured nobody can reload packs or switch monitors off, and the
    403 names the setting that opens them."""
    with make_client(policy(keys=keys)) as c:
        for method, url in [("POST", "/admin/packs/reload"), ("GET", "/admin/monitors"),
                            ("POST", "/admin/monitors/safety/f0")]:
            for headers in ({}, auth(INFER), auth(ADMIN)):
                r = c.request(method, url, headers=headers, json={"enabled": False})
                assert r.status_code == 403, (method, url, r.status_code)
                assert r.json()["error"]["code"] == "admin_disabled"
                assert "keys.admin" in r.json()["error"]["message"]
        assert c.get("/health").status_code == 200


def test_mandatory_monitor_cannot_be_turned_off_and_still_runs(make_client):
    with make_client(policy(monitors={})) as c:
        for spec in ("safety/f0:off", "safety:off", "safety/f0:suppress", "safety/f0:add=1"):
            r = chat(c, {**auth(INFER), "X-Steering": spec})
            assert r.status_code == 403, spec
            assert r.json()["error"]["code"] == "steering_not_permitted"
        r = chat(c, auth(INFER))
        assert "safety/f0" in r.json()["steering"]["monitors"]  # runs on every request, unasked
        metrics = c.get("/metrics").text
        assert 'steerserve_alerts_total{action="denied",feature="f0",pack="safety"} 4.0' in metrics


def test_key_pack_allow_list(make_client):
    with make_client(policy(monitors={})) as c:
        r = chat(c, {**auth(LIMITED), "X-Steering": "topic/f0:add=1"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "steering_not_permitted"
        assert chat(c, {**auth(LIMITED), "X-Steering": "safety/f1:monitor"}).status_code == 200


def test_profile_and_policy_bounds(make_client):
    with make_client(policy(monitors={})) as c:
        r = chat(c, {**auth(INFER), "X-Steering-Profile": "support-bot"})
        applied = {a["feature"]: a for a in r.json()["steering"]["applied"]}
        assert applied["topic/f0"]["op"] == "add" and applied["topic/f0"]["value"] == 2.0
        assert applied["topic/f0"]["positions"] > 0 and applied["safety/f0"]["positions"] == 0  # a monitor edits none
        r = chat(c, {**auth(INFER), "X-Steering": "topic/f0:add=3x"})
        assert r.status_code == 200
        r = chat(c, {**auth(INFER), "X-Steering": "topic/f0:add=3.5x"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "steering_value_out_of_range"


def test_block_action_ends_with_content_filter(make_client):
    with make_client(policy()) as c:
        r = chat(c, auth(INFER))
        body = r.json()
        assert body["choices"][0]["finish_reason"] == "content_filter"
        assert body["steering"]["alerts"][0]["action"] == "block"
        assert body["steering"]["flagged"] is True
        assert "safety/f0:block@" in r.headers["x-steering-alerts"]


def test_steer_action_switches_on_counter_steering(make_client):
    cfg = policy(monitors={"safety/f1": {"action": "steer", "threshold": -1000.0, "steer": "topic/f0:add=1x"}})
    with make_client(cfg) as c:
        r = chat(c, {**auth(INFER), "X-Steering": "safety/f1:monitor"}, max_tokens=20)
        assert r.json()["steering"]["alerts"][0]["action"] == "steer"
        assert "Steered" in r.json()["choices"][0]["message"]["content"]


def test_admin_can_disable_a_mandatory_monitor_audited(make_client):
    with make_client(policy(monitors={})) as c:
        r = c.post("/admin/monitors/safety/f0", json={"enabled": False}, headers=auth(ADMIN))
        assert r.status_code == 200
        assert "safety/f0" not in chat(c, auth(INFER)).json()["steering"]["monitors"]
        assert c.get("/admin/monitors", headers=auth(ADMIN)).json()["disabled"] == ["safety/f0"]
        c.post("/admin/monitors/safety/f0", json={"enabled": True}, headers=auth(ADMIN))
        assert "safety/f0" in chat(c, auth(INFER)).json()["steering"]["monitors"]
        assert 'action="admin"' in c.get("/metrics").text


def test_body_and_header_limits(make_client):
    with make_client(PolicyConfig.model_validate({"server": {"max_body_bytes": 2048}})) as c:
        big = "x" * 4000
        r = chat(c, messages=[{"role": "user", "content": big}])
        assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"

        def chunks():
            yield b'{"model": "fake-model", "messages": [{"role": "user", "content": "'
            for _ in range(10):
                yield b"y" * 500
            yield b'"}]}'

        r = c.post("/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413
        r = chat(c, {f"x-h{i}": "v" for i in range(150)})
        assert r.status_code == 431
        assert chat(c).status_code == 200


def test_deeply_nested_json_is_a_400(make_client):
    with make_client(PolicyConfig()) as c:
        body = b'{"model": "fake-model", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        r = c.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
        assert r.status_code in (400, 413)


def test_max_x_setting_survives_a_pack_reload(packs, tmp_path):
    """STEERSERVE_MAX_X (the setting) bounds values at start-up and still after an admin reload."""
    cfg = policy(steering={})  # the policy file leaves max_x unset: the setting rules
    app = build_app(ServerSettings(packs=str(tmp_path), max_x=5), FakeEngine(packs), policy=cfg)
    with TestClient(app) as c:
        def status(value):
            return chat(c, {"X-Steering": f"topic/f0:add={value}x", **auth(INFER)}).status_code

        assert (status(5), status(6)) == (200, 400)
        assert c.post("/admin/packs/reload", headers=auth(ADMIN)).status_code == 200
        assert (status(5), status(6)) == (200, 400)


NOTE = "Automated review: this reply touched a monitored topic. See https://example.com/policy."


def _stream_text(c, headers, **body) -> tuple[str, dict]:
    text, last = "", {}
    with c.stream("POST", "/v1/chat/completions", headers=headers,
                  json={"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8,
                        "temperature": 0, "stream": True, **body}) as r:
        for line in r.iter_lines():
            if line.startswith("data: {"):
                msg = json.loads(line[6:])
                text += "".join(ch["delta"].get("content") or "" for ch in msg["choices"])
                last = msg.get("steering", last)
    return text, last


def test_annotate_action_appends_the_operators_note_once_streamed_or_not(make_client):
    cfg = policy(monitors={"safety/f1": {"action": "annotate", "threshold": -1000.0, "note": NOTE}})
    with make_client(cfg) as c:
        plain = chat(c, auth(INFER)).json()["choices"][0]["message"]["content"]
        r = chat(c, {**auth(INFER), "X-Steering": "safety/f1:monitor"}).json()
        assert [a["feature"] for a in r["steering"]["alerts"] if a["action"] == "annotate"] == ["safety/f1"]
        assert r["choices"][0]["message"]["content"] == plain + "\n\n" + NOTE  # the note, once, at the end
        assert r["steering"]["annotations"] == [{"feature": "safety/f1", "note": NOTE}]
        assert "flagged" not in r["steering"]
        text, steering = _stream_text(c, {**auth(INFER), "X-Steering": "safety/f1:monitor"})
        assert text == plain + "\n\n" + NOTE and steering["annotations"] == r["steering"]["annotations"]
        comp = c.post("/v1/completions", headers={**auth(INFER), "X-Steering": "safety/f1:monitor"},
                      json={"model": "fake-model", "prompt": "hi", "max_tokens": 8, "temperature": 0}).json()
        assert comp["choices"][0]["text"].endswith("\n\n" + NOTE)


def test_annotate_adds_nothing_when_the_monitor_does_not_fire(make_client):
    cfg = policy(monitors={"safety/f1": {"action": "annotate", "threshold": 1e9, "note": NOTE}})
    with make_client(cfg) as c:
        plain = chat(c, auth(INFER)).json()["choices"][0]["message"]["content"]
        r = chat(c, {**auth(INFER), "X-Steering": "safety/f1:monitor"}).json()
        assert r["choices"][0]["message"]["content"] == plain
        assert "safety/f1" not in {a["feature"] for a in r["steering"]["alerts"]}  # (the mandatory f0 logs)
        assert "annotations" not in r["steering"]


def test_annotate_needs_a_note_in_the_policy_file(tmp_path):
    f = tmp_path / "policy.yaml"
    f.write_text("monitors:\n  safety/f1: {action: annotate, threshold: 0.5}\n")
    with pytest.raises(ValueError, match="annotate.*needs a 'note'"):
        load_policy(f)
