"""examples/config.yaml on the real server: the mandatory unsafe-code monitor flags a request with insecure code,
and the support-bot profile applies its steering."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from tests.e2e.conftest import start_server

pytestmark = pytest.mark.slow
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "config.yaml"


@pytest.fixture(scope="module")
def client(model_path, monkeypatch_module):
    monkeypatch_module.setenv("STEERSERVE_WEBHOOK_SECRET", "test")
    proc, base = start_server("--config", str(EXAMPLE))
    yield openai.OpenAI(base_url=base + "/v1", api_key="sk-demo-inference", max_retries=0)
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def ask(client, content, **kw):
    return client.chat.completions.create(model="smollm2-135m-instruct", temperature=0, max_tokens=40,
                                          messages=[{"role": "user", "content": content}], **kw)


def test_insecure_code_request_is_flagged(client):
    r = ask(client, 'Fix this: import os\ndef rm(name):\n    os.system("rm " + name)\n')
    s = r.model_extra["steering"]
    assert s["monitors"]["unsafe-code/python"]["fired"]
    assert s["alerts"][0]["feature"] == "unsafe-code/python" and s["alerts"][0]["action"] == "flag"
    assert s["flagged"] is True


def test_profile_applies_its_steering(client):
    r = ask(client, "What is your favourite food?", extra_headers={"X-Steering-Profile": "support-bot"})
    applied = {a["feature"]: a["op"] for a in r.model_extra["steering"]["applied"]}
    assert applied == {"golden-gate/bridge": "clamp", "unsafe-code/python": "monitor"}
