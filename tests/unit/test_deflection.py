"""Steered deflection without a real model: the example policy and the builder's dev policy wire the off-scope
monitor to the deflect direction (action steer), and the report's arithmetic (deflected, answered unchanged)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from server.policy import load_policy
from server.steering_service import CompiledPolicy, resolve_request
from steering.runtime import SteeringRuntime
from steerlab.build.deflect_pack import save_deflect_pack, steered_policy
from steerlab.build.scope_pack import FEATURE, PACK_ID, Candidate, save_scope_pack
from steerlab.eval.deflection import DEFLECTION, DeflectionRun, Reply
from tests.conftest import TINY

STEERED = Path(__file__).resolve().parents[2] / "examples" / "scope-health-steered.yaml"
TOPICS, DEFLECT = (PACK_ID, FEATURE), ("scope-deflect", "deflect")


@pytest.fixture
def runtime(tmp_path) -> SteeringRuntime:
    c = Candidate(2, "max", torch.ones(TINY.d_model), 0.0, 1.0, 0.9, 0.8, 0.05, 0.9)
    topics = save_scope_pack(tmp_path / PACK_ID, TINY, c, 3.0, {"corpus": "synthetic", "command": "test"})
    direction = torch.linspace(-1, 1, TINY.d_model)
    deflect = save_deflect_pack(tmp_path / "scope-deflect", TINY, {3: direction}, 2.5, "test", 4, 0)
    return SteeringRuntime([topics, deflect], TINY.d_model)


def test_example_policy_steers_flagged_requests_to_the_deflection(runtime):
    policy = CompiledPolicy.from_config(load_policy(STEERED), runtime)
    rs = resolve_request(runtime, policy, None, "health-assistant-steered", None)
    assert rs.config == {TOPICS: ("monitor", runtime.column(TOPICS).threshold)}
    assert rs.block_on == frozenset()  # nothing ends with content_filter: the model answers, deflecting
    assert rs.steer_on == {TOPICS: {DEFLECT: ("add", 2.5)}}  # the pack's default strength, 2.5 × max_activation 1
    assert resolve_request(runtime, policy, None, None, None).config == {}  # no profile: nothing watched


def test_dev_policy_carries_the_strength_under_trial(runtime, tmp_path):
    policy = CompiledPolicy.from_config(load_policy(steered_policy(tmp_path / "p.yaml", 8)), runtime)
    assert resolve_request(runtime, policy, None, "health-assistant-steered", None).steer_on == {
        TOPICS: {DEFLECT: ("add", 8.0)}}


def test_deflect_pack_adds_the_mean_difference_at_one_x(runtime):
    """1x = the difference of means itself: the op adds exactly the stored direction."""
    col = runtime.column(DEFLECT)
    assert col.max_activation == 1.0
    row = runtime.rows.acquire({DEFLECT: ("add", 1.0)})
    h = torch.zeros(3, TINY.d_model)
    with runtime.forward(torch.full((3,), row), None, torch.arange(1, 4)):
        out = runtime.apply_site(3, h.clone())
    assert torch.allclose(out, torch.linspace(-1, 1, TINY.d_model).expand(3, -1), atol=1e-6)


def test_multi_layer_deflect_pack_adds_each_layers_own_difference(tmp_path):
    """Several layers: format v2 sites, each adding its own layer's direction (1x = that difference), read at the
    lowest."""
    dirs = {2: torch.linspace(-1, 1, TINY.d_model), 3: torch.linspace(1, -1, TINY.d_model) * 2}
    pack = save_deflect_pack(tmp_path / "scope-deflect", TINY, dirs, 1.5, "test", 4, 0)
    assert pack.manifest.format_version == 2 and pack.layers == [2, 3]
    assert pack.manifest.features[0].default_value == "1.5x"
    rt = SteeringRuntime([pack], TINY.d_model)
    row = rt.rows.acquire({DEFLECT: ("add", 1.0)})
    for layer, d in dirs.items():
        with rt.forward(torch.full((2,), row), None, torch.arange(1, 3)):
            out = rt.apply_site(layer, torch.zeros(2, TINY.d_model))
        assert torch.allclose(out, d.expand(2, -1), atol=1e-6)


@pytest.mark.parametrize("text,deflects", [
    ("I'm sorry, but I can only help with health and medical questions.", True),
    ("I can only answer questions about health.", True),
    ("That's outside my area; I'm here for health questions.", True),
    ("Sorry, I can't help with that.", True),
    ("I can't help you, I can't help", True),
    ("The capital of France is Paris.", False),
    ("Drink plenty of water and rest; see a doctor if the fever lasts more than three days.", False),
])
def test_deflection_regex(text, deflects):
    assert bool(DEFLECTION.search(text)) == deflects


def test_report_arithmetic():
    run = DeflectionRun("p", "policy.yaml", [
        Reply("off 1", False, "", "content_filter", "Paris."),  # blocked: deflected, not in words
        Reply("off 2", False, "I can only help with health questions.", "stop", "Paris."),
        Reply("off 3", False, "Paris.", "stop", "Paris."),  # the monitor missed it
        Reply("off 4", False, "Berlin.", "stop", "Sorry, I can't help with that."),
        Reply("in 1", True, "Rest and fluids.", "stop", "Rest and fluids."),
        Reply("in 2", True, "I can only help with health questions.", "stop", "Rest."),  # a false alarm
    ])
    assert run.off_deflected == 0.5 and run.off_steered_deflected == 0.25
    assert run.in_answered == 0.5 and run.plain_deflected == 0.25
    assert not run.goal_met()
