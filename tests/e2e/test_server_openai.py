"""The real server (`steer serve`, embedded SmolLM2, shipped packs) through the official `openai` SDK."""

from __future__ import annotations

import openai
import pytest

from tests.e2e.conftest import start_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(model_path):
    proc, base = start_server()
    yield base
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server + "/v1", api_key="unused", max_retries=0)


def ask(client, question="What is your favourite food?", **kw):
    kw = {"temperature": 0, "max_tokens": 40, **kw}
    return client.chat.completions.create(model="smollm2-135m-instruct",
                                          messages=[{"role": "user", "content": question}], **kw)


def test_chat_stops_at_end_of_turn(client):
    r = ask(client, "What is the capital of France?", max_tokens=64)
    assert "Paris" in r.choices[0].message.content
    assert r.choices[0].finish_reason == "stop"
    assert "<|im_end|>" not in r.choices[0].message.content


def test_header_clamp_changes_the_reply_and_brings_up_the_bridge(client):
    plain = ask(client).choices[0].message.content
    r = ask(client, extra_headers={"X-Steering": "golden-gate/bridge:add=1.5x"})
    steered = r.choices[0].message.content
    assert steered != plain
    assert any(w in steered.lower() for w in ("golden gate", "san francisco", "bridge"))
    assert r.model_extra["steering"]["applied"][0]["feature"] == "golden-gate/bridge"
    # the receipt: every position the model ran but the attention sink (the last sampled token is not fed back)
    r = ask(client, max_tokens=6, extra_body={"ignore_eos": True},
            extra_headers={"X-Steering": "golden-gate/bridge:add=1.5x"})
    assert r.choices[0].finish_reason == "length"
    assert r.model_extra["steering"]["applied"][0]["positions"] == r.usage.prompt_tokens - 1 + 6 - 1


def test_a_bare_pack_id_steers_with_its_defaults(client):
    """``X-Steering: golden-gate`` = each feature's default op and value (add 1.5x for the bridge)."""
    r = ask(client, extra_headers={"X-Steering": "golden-gate"})
    assert r.model_extra["steering"]["applied"][0]["op"] == "add"
    assert r.choices[0].message.content == ask(
        client, extra_headers={"X-Steering": "golden-gate/bridge:add=1.5x"}).choices[0].message.content


def test_body_steering_and_monitor(client):
    r = ask(client, extra_body={"steering": {"features": [{"feature": "golden-gate/bridge", "op": "monitor"}]}})
    mon = r.model_extra["steering"]["monitors"]["golden-gate/bridge"]
    assert {"max", "threshold", "fired"} <= set(mon)
    r2 = ask(client, "Tell me about the Golden Gate Bridge in San Francisco.",
             extra_body={"steering": "golden-gate/bridge:monitor"})
    assert r2.model_extra["steering"]["monitors"]["golden-gate/bridge"]["prompt_max"] > mon["prompt_max"]


def test_streaming_matches_non_streaming(client):
    full = ask(client, extra_headers={"X-Steering": "golden-gate/bridge:add=1x"}).choices[0].message.content
    stream = ask(client, stream=True, extra_headers={"X-Steering": "golden-gate/bridge:add=1x"})
    parts, last = [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
        last = chunk
    assert "".join(parts) == full
    assert "steering" in last.model_extra


def test_completions(client):
    r = client.completions.create(model="smollm2-135m-instruct", prompt="The capital of France is", max_tokens=5,
                                  temperature=0)
    assert r.choices[0].text.strip()


def test_sdk_raises_the_right_errors(client):
    with pytest.raises(openai.BadRequestError):
        ask(client, extra_headers={"X-Steering": "golden-gate/bridge:clamp=oops"})
    with pytest.raises(openai.NotFoundError):
        ask(client, extra_headers={"X-Steering": "no-such-pack:add=1"})
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    assert ask(client).choices[0].message.content  # still serving


def test_completions_stream_and_logprobs(client):
    stream = client.completions.create(model="smollm2-135m-instruct", prompt="The capital of France is",
                                       max_tokens=5, temperature=0, stream=True,
                                       extra_headers={"X-Steering": "golden-gate/bridge:monitor"})
    text = "".join(c.choices[0].text for c in stream if c.choices)
    full = client.completions.create(model="smollm2-135m-instruct", prompt="The capital of France is",
                                     max_tokens=5, temperature=0)
    assert text == full.choices[0].text
    r = ask(client, logprobs=True, top_logprobs=3, max_tokens=5)
    lp = r.choices[0].logprobs.content
    assert len(lp) == 5 and all(len(t.top_logprobs) == 3 and t.logprob <= 0 for t in lp)
    chunks = list(ask(client, logprobs=True, max_tokens=5, stream=True))
    assert sum(len(c.choices[0].logprobs.content) for c in chunks if c.choices and c.choices[0].logprobs) == 5


def test_completions_with_body_steering(client):
    plain = client.completions.create(model="smollm2-135m-instruct", prompt="My favourite place is",
                                      max_tokens=12, temperature=0).choices[0].text
    r = client.completions.create(model="smollm2-135m-instruct", prompt="My favourite place is", max_tokens=12,
                                  temperature=0, extra_body={"steering": {"features": [
                                      {"feature": "golden-gate/bridge", "op": "add", "value": "1.5x"}]}})
    assert r.choices[0].text != plain
    assert r.model_extra["steering"]["applied"][0]["feature"] == "golden-gate/bridge"
