"""The shipped topics pack under examples/scope-health.yaml's profile, in the real HF engine: an off-scope question
is blocked at the prompt (content_filter, no text), an in-scope one is answered exactly as without the profile.
Under examples/scope-health-steered.yaml the same monitor switches a flagged request to the scope-deflect direction
instead of ending it; an unflagged one is again untouched."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from server.engines.base import GenerateRequest, SamplingParams
from server.policy import load_policy
from server.steering_service import CompiledPolicy, resolve_request

pytestmark = pytest.mark.slow
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "scope-health.yaml"
STEERED = EXAMPLE.with_name("scope-health-steered.yaml")
REF = ("topics", "off-scope")


@pytest.fixture(scope="module")
def profile(engine):
    policy = CompiledPolicy.from_config(load_policy(EXAMPLE), engine.runtime)
    return resolve_request(engine.runtime, policy, None, "health-assistant", None)


def ask(engine, question: str, steering=None, max_tokens: int = 32) -> tuple[str, str, dict]:
    async def go():
        ids = engine.tokenize_chat([{"role": "user", "content": question}])
        cfg, block, steer = (steering.config, steering.block_on, steering.steer_on) if steering else ({}, frozenset(), {})
        req = GenerateRequest(f"scope-{hash(question)}-{bool(steering)}", ids,
                              SamplingParams(max_tokens=max_tokens, temperature=0.0), cfg, block, steer)
        text, finish, monitors = "", None, {}
        async for d in engine.generate(req):
            text, finish, monitors = text + d.text, d.finish_reason or finish, d.monitors or monitors
        return text, finish, monitors

    return asyncio.run(go())


def test_profile_blocks_off_scope_at_the_prompt(engine, profile):
    assert profile.block_on == frozenset({REF})
    text, finish, monitors = ask(engine, "Who won the FIFA World Cup in 2014?", profile)
    m = monitors["topics/off-scope"]
    assert finish == "content_filter" and text == ""
    assert m["fired"] and m["prompt_max"] > m["threshold"] and m["completion_max"] is None


def test_profile_keeps_in_scope_answers_unchanged(engine, profile):
    question = "What are the symptoms of type 2 diabetes?"
    scoped = ask(engine, question, profile)
    plain = ask(engine, question)
    assert scoped[1] != "content_filter" and not scoped[2]["topics/off-scope"]["fired"]
    assert scoped[0] == plain[0] and scoped[1] == plain[1] and len(scoped[0]) > 20


@pytest.fixture(scope="module")
def steered(engine):
    policy = CompiledPolicy.from_config(load_policy(STEERED), engine.runtime)
    return resolve_request(engine.runtime, policy, None, "health-assistant-steered", None)


def test_steered_profile_switches_a_flagged_request_to_the_deflection(engine, steered):
    """Mechanism, not wording: the request is not blocked, the monitor fired at the prompt, and the reply differs
    from the unprofiled one because the deflect direction was added from then on."""
    assert steered.block_on == frozenset() and set(steered.steer_on) == {REF}
    assert ("scope-deflect", "deflect") in steered.steer_on[REF]
    question = "Who won the FIFA World Cup in 2014?"
    text, finish, monitors = ask(engine, question, steered)
    plain = ask(engine, question)
    assert finish != "content_filter" and monitors["topics/off-scope"]["fired"]
    assert text != plain[0]


def test_steered_profile_keeps_unflagged_answers_unchanged(engine, steered):
    question = "What are the symptoms of type 2 diabetes?"
    scoped, plain = ask(engine, question, steered), ask(engine, question)
    assert not scoped[2]["topics/off-scope"]["fired"]
    assert scoped[0] == plain[0] and scoped[1] == plain[1]
