"""Catalogue C (grammar part): the X-Steering parser names the offending item and position."""

from __future__ import annotations

import pytest

from steering.errors import InvalidSteeringSpec, UnknownFeature, UnknownFeaturePack, ValueOutOfRange
from steering.runtime import SteeringRuntime
from steering.spec import MAX_ITEMS, SpecItem, parse_spec, resolve


def test_contract_example_parses():
    items = parse_spec("golden-gate/bridge:clamp=10x, bias/gender:suppress, safety/unsafe-code:monitor")
    assert items == [
        SpecItem("golden-gate", "bridge", "clamp", 10.0, True),
        SpecItem("bias", "gender", "suppress"),
        SpecItem("safety", "unsafe-code", "monitor"),
    ]


def test_whitespace_is_ignored():
    assert parse_spec(" a / b : add = -1.5e1 ") == [SpecItem("a", "b", "add", -15.0, False)]


@pytest.mark.parametrize("text", ["", "   ", "\t"])
def test_empty_spec_is_no_steering(text):
    assert parse_spec(text) == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (":::", "item 1"),
        ("a/b:clamp=", "missing value"),
        ("a/b:clamp=oops", "value must be a number"),
        ("a/b:explode", "unknown op"),
        ("a/b:suppress=3", "takes no value"),
        ("A/b:add=1", "pack id"),
        ("a/B:add=1", "feature name"),
        ("a/b:add=1, c/D", "item 2"),
        ("a/b=2x", "needs an op"),
        ("a/b:add=1,", "item 2"),
        ("a/b:add=nan", "value must be"),
        ("a/b:add=inf", "value must be"),
        ("a/b:add=1e999", "finite"),
        ("a/b:add=1, a/b:clamp=2", "more than once"),
        ("a/b:add=1\r\nX-Evil: 1", "printable ASCII"),
        ("brücke/x:add=1", "printable ASCII"),
        ("a/b:add=1\x00", "printable ASCII"),
        ("x" * 10_000, "characters"),
    ],
)
def test_garbage_is_rejected_naming_the_item(text, fragment):
    with pytest.raises(InvalidSteeringSpec) as e:
        parse_spec(text)
    assert fragment in e.value.message
    assert e.value.code == "invalid_steering_spec"


def test_item_limit_boundary():
    ok = ", ".join(f"p{i}/f:add=1" for i in range(MAX_ITEMS))
    assert len(parse_spec(ok)) == MAX_ITEMS
    with pytest.raises(InvalidSteeringSpec, match="limit"):
        parse_spec(ok + ", extra/f:add=1")


@pytest.fixture
def rt(pack_factory):
    return SteeringRuntime([pack_factory("p", n_features=2, max_activation=2.0)], 16)


def test_resolve_units_defaults_and_precedence(rt):
    base = parse_spec("p:monitor")
    header = parse_spec("p/f0:clamp=3x, p/f1:off")
    cfg = resolve([base, header], rt)
    assert cfg == {("p", "f0"): ("clamp", 6.0)}  # 3x × max_activation 2.0; f1 switched off
    assert resolve([parse_spec("p/f1:clamp")], rt) == {("p", "f1"): ("clamp", 4.0)}  # default 2x
    assert resolve([parse_spec("p/f0:suppress")], rt) == {("p", "f0"): ("clamp", 0.0)}


def test_bare_refs_mean_default_ops_and_values(rt):
    """``X-Steering: golden-gate`` is a whole toggle: each feature's default op (clamp here) and default value
    (2x); an explicit op still takes the default value; a later ``off`` removes it."""
    assert parse_spec("p, p/f0") == [SpecItem("p", None, None), SpecItem("p", "f0", None)]
    assert parse_spec("p")[0].canonical() == "p"
    assert resolve([parse_spec("p")], rt) == {("p", "f0"): ("clamp", 4.0), ("p", "f1"): ("clamp", 4.0)}
    assert resolve([parse_spec("p/f1")], rt) == {("p", "f1"): ("clamp", 4.0)}
    assert resolve([parse_spec("p"), parse_spec("p/f0:off")], rt) == {("p", "f1"): ("clamp", 4.0)}
    with pytest.raises(UnknownFeaturePack):
        resolve([parse_spec("nope")], rt)


def test_resolve_errors(rt):
    with pytest.raises(UnknownFeaturePack):
        resolve([parse_spec("nope:add=1")], rt)
    with pytest.raises(UnknownFeature):
        resolve([parse_spec("p/nope:add=1")], rt)
    with pytest.raises(ValueOutOfRange):
        resolve([parse_spec("p/f0:add=1e308")], rt)
    with pytest.raises(ValueOutOfRange):
        resolve([parse_spec("p/f0:add=101x")], rt)
    assert resolve([parse_spec("p/f0:add=100x")], rt)  # the bound itself passes
