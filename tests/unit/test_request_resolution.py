"""Request resolution is one pass: a request's steering items are parsed once (the body's JSON never becomes grammar
text again) and expanded once, and both value bounds are checked in the same merge."""

from __future__ import annotations

import pytest

import steering.spec as spec
from server.policy import PolicyConfig
from server.protocol import SteeringBody
from server.steering_service import CompiledPolicy, MandatoryMonitorOff, resolve_request
from steering.errors import InvalidSteeringSpec, ValueOutOfRange
from steering.runtime import SteeringRuntime
from tests.conftest import TINY


@pytest.fixture
def runtime(pack_factory):
    packs = [pack_factory("topic", kind="direction", n_features=1, max_activation=2.0),
             pack_factory("safety", n_features=2, threshold=0.5, seed=1)]
    return SteeringRuntime(packs, TINY.d_model)


def policy(runtime, **steering) -> CompiledPolicy:
    return CompiledPolicy.from_config(PolicyConfig.model_validate({"steering": steering}), runtime)


def test_each_item_is_parsed_once_and_expanded_once(runtime, monkeypatch):
    pol = policy(runtime, defaults="safety/f1:monitor", mandatory_monitors=["safety/f0"])
    calls = {"expand": [], "parse_item": 0, "parse_value": 0}
    real_expand, real_item, real_value = spec.expand, spec.parse_item, spec.parse_value

    def expand(item, rt):
        calls["expand"].append(item.ref)
        return real_expand(item, rt)

    def parse_item(*a, **k):
        calls["parse_item"] += 1
        return real_item(*a, **k)

    def parse_value(text):
        calls["parse_value"] += 1
        return real_value(text)

    monkeypatch.setattr(spec, "expand", expand)
    monkeypatch.setattr(spec, "parse_item", parse_item)
    monkeypatch.setattr(spec, "parse_value", parse_value)
    import server.steering_service as svc
    monkeypatch.setattr(svc, "parse_value", parse_value)

    body = SteeringBody.model_validate({"features": [{"feature": "topic/f0", "op": "add", "value": "1.5x"},
                                                     {"feature": "safety", "op": "monitor"}]})
    rs = resolve_request(runtime, pol, "topic/f0:add=0.5x", None, body)
    # defaults (1 item) + body (2 items) + header (1 item): each expanded exactly once
    assert sorted(calls["expand"]) == sorted(["safety/f1", "topic/f0", "safety", "topic/f0"])
    assert calls["parse_item"] == 1  # the header's one item; the body's items are never re-serialised and parsed
    assert calls["parse_value"] == 2  # "1.5x" from the body, "0.5x" from the header
    assert rs.config[("topic", "f0")] == ("add", pytest.approx(1.0))  # the header wins: 0.5 × max_activation 2.0
    assert rs.config[("safety", "f0")][0] == "monitor"


def test_body_items_get_the_grammars_checks_and_name_their_place(runtime):
    pol = policy(runtime)
    for feature, op, value, param, msg in [
        ("Topic/f0", "add", None, "steering.features[0]", "pack id must match"),
        ("topic/f0", "monitor", 2.0, "steering.features[0]", "takes no value"),
        ("topic/f0", "add", "2y", "steering.features[0].value", "value must be a number"),
        ("topic/f0", "add", float("nan"), "steering.features[0].value", "value must be finite"),
    ]:
        body = SteeringBody.model_validate({"features": [{"feature": feature, "op": op, "value": value}]})
        with pytest.raises(InvalidSteeringSpec, match=msg) as e:
            resolve_request(runtime, pol, None, None, body)
        assert e.value.param == param
    body = SteeringBody.model_validate({"features": [{"feature": " topic / f0 ", "op": "add", "value": 1}]})
    assert resolve_request(runtime, pol, None, None, body).config[("topic", "f0")] == ("add", 1.0)


def test_both_bounds_are_checked_in_one_merge_and_mandatory_monitors_hold(runtime):
    pol = policy(runtime, max_x=10, pack_max_x={"topic": 3}, mandatory_monitors=["safety/f0"])
    with pytest.raises(ValueOutOfRange, match="outside the policy bound ±3x"):
        resolve_request(runtime, pol, "topic/f0:add=4x", None, None)
    with pytest.raises(ValueOutOfRange, match="outside ±10x"):
        resolve_request(runtime, pol, "safety/f1:add=11x", None, None)
    with pytest.raises(MandatoryMonitorOff):
        resolve_request(runtime, pol, "safety/f0:off", None, None)
    assert resolve_request(runtime, pol, "safety/f0:off", None, None, admin=True).config[("safety", "f0")][0] == \
        "monitor"
