"""Request resolution as one pure step (steering/policy.py): parsed items + the compiled policy + the loaded packs →
the resolved config, with no HTTP in sight."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import pytest

from steering.errors import InvalidSteeringSpec, NotPermitted, ValueOutOfRange
from steering.policy import CompiledPolicy, MandatoryMonitorOff, resolve_steering
from steering.runtime import SteeringRuntime
from steering.spec import parse_spec
from tests.conftest import TINY


@dataclass
class Rule:  # what a policy file's monitors.<ref> section says (server/policy.py MonitorConfig has these fields)
    action: str | None = None
    threshold: float | None = None
    steer: str | None = None
    note: str | None = None


@pytest.fixture
def runtime(pack_factory):
    packs = [pack_factory("topic", kind="direction", n_features=2, max_activation=2.0),
             pack_factory("safety", n_features=2, threshold=0.5, seed=1)]
    return SteeringRuntime(packs, TINY.d_model)


def test_the_core_imports_no_web_code():
    code = ("import sys, steering.policy; bad = [m for m in sys.modules if m.split('.')[0] in "
            "('server', 'fastapi', 'starlette', 'uvicorn', 'httpx')]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_layers_merge_in_order_and_off_removes(runtime):
    pol = CompiledPolicy.compile(runtime, defaults="topic/f0:add=1x, topic/f1:add=1x",
                                 profiles={"p": "topic/f0:add=2x"})
    rs = resolve_steering(runtime, pol, profile="p", body=parse_spec("topic/f0:add=3x"),
                          header=parse_spec("topic/f1:off"))
    assert dict(rs.config) == {("topic", "f0"): ("add", 6.0)}  # body over profile over defaults; header's off
    rs = resolve_steering(runtime, pol, body=parse_spec("topic/f0:add=3x"), header=parse_spec("topic/f0:add=0.5x"))
    assert rs.config[("topic", "f0")] == ("add", 1.0)  # the header wins over the body
    assert resolve_steering(runtime, pol, header=parse_spec("topic/f1:suppress")).config[("topic", "f1")] == \
        ("clamp", 0.0)
    with pytest.raises(InvalidSteeringSpec) as e:
        resolve_steering(runtime, pol, profile="nope")
    assert e.value.code == "unknown_steering_profile"


def test_bounds_and_pack_allow_list(runtime):
    pol = CompiledPolicy.compile(runtime, max_x=10, pack_max_x={"topic": 3})
    with pytest.raises(ValueOutOfRange, match="policy bound"):
        resolve_steering(runtime, pol, header=parse_spec("topic/f0:add=4x"))
    with pytest.raises(ValueOutOfRange, match="±10x"):
        resolve_steering(runtime, pol, body=parse_spec("safety/f0:add=11x"))
    with pytest.raises(NotPermitted, match="may not use feature pack 'safety'"):
        resolve_steering(runtime, pol, header=parse_spec("safety/f0:monitor"), packs=["topic"])
    assert resolve_steering(runtime, pol, header=parse_spec("safety/f0:monitor"), packs=["topic"], admin=True).config


def test_mandatory_monitors_thresholds_and_actions_travel_in_the_result(runtime):
    pol = CompiledPolicy.compile(runtime, mandatory=["safety/f0"], monitors={
        "safety/f0": Rule(action="block", threshold=0.25),
        "safety/f1": Rule(action="steer", steer="topic/f0:add=1x"),
        "topic/f1": Rule(action="annotate", note="careful"),
    })
    rs = resolve_steering(runtime, pol, header=parse_spec("safety/f1:monitor, topic/f1:monitor"), report="tokens")
    assert rs.config[("safety", "f0")] == ("monitor", 0.25)  # forced on, with the policy's threshold override
    assert rs.config[("safety", "f1")] == ("monitor", 0.5)  # the pack's threshold
    assert rs.block_on == {("safety", "f0")}
    assert dict(rs.steer_on[("safety", "f1")]) == {("topic", "f0"): ("add", 2.0)}
    assert rs.notes == {("topic", "f1"): "careful"} and rs.report == "tokens"
    with pytest.raises(MandatoryMonitorOff) as e:
        resolve_steering(runtime, pol, body=parse_spec("safety:off"))
    assert e.value.feature == "safety/f0" and e.value.status == 403
    assert resolve_steering(runtime, pol, body=parse_spec("safety:off"), admin=True).config == \
        {("safety", "f0"): ("monitor", 0.25)}  # an admin may send it, but the mandatory monitor stays on
    pol.disabled.add(("safety", "f0"))  # an admin switched it off at run time
    assert ("safety", "f0") not in resolve_steering(runtime, pol, header=parse_spec("safety/f0:monitor")).config


def test_a_bad_policy_fails_when_compiled(runtime):
    with pytest.raises(InvalidSteeringSpec):
        CompiledPolicy.compile(runtime, defaults="topic/f0:add=")
    with pytest.raises(Exception, match="no feature 'f9'"):
        CompiledPolicy.compile(runtime, mandatory=["safety/f9"])
    with pytest.raises(ValueOutOfRange):
        CompiledPolicy.compile(runtime, max_x=1, monitors={"safety/f0": Rule(steer="topic/f0:add=5x")})
