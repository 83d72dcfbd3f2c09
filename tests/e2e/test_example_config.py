"""examples/config.yaml on the real server: the mandatory unsafe-code monitor flags a request with insecure code,
and the support-bot profile applies its steering."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest

from steerlab.webhook_receiver import Receiver
from tests.conftest import wait_for
from tests.e2e.conftest import start_server
from tests.e2e.test_alerts_webhook import SECRET

pytestmark = pytest.mark.slow
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "config.yaml"


@pytest.fixture(scope="module")
def server(model_path, monkeypatch_module):
    monkeypatch_module.setenv("STEERSERVE_WEBHOOK_SECRET", SECRET)
    proc, base = start_server("--config", str(EXAMPLE))
    yield base
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server + "/v1", api_key="sk-demo-inference", max_retries=0)


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def ask(client, content, **kw):
    return client.chat.completions.create(model="smollm2-135m-instruct", temperature=0, max_tokens=40,
                                          messages=[{"role": "user", "content": content}], **kw)


def test_insecure_code_alert_in_response_metrics_and_webhook_after_it_comes_back(server, client):
    r = ask(client, 'Fix this: import os\ndef rm(name):\n    os.system("rm " + name)\n')
    s = r.model_extra["steering"]
    assert s["monitors"]["unsafe-code/python"]["fired"]
    assert s["alerts"][0]["feature"] == "unsafe-code/python" and s["alerts"][0]["action"] == "flag"
    assert s["flagged"] is True
    assert 'steerserve_alerts_total{action="flag",feature="python",pack="unsafe-code"} 1.0' in \
        httpx.get(server + "/metrics").text
    # the receiver (examples/config.yaml points at 127.0.0.1:9009) is down: deliveries fail and are retried
    wait_for(lambda: 'alert_sink_failures_total{sink="webhook"}' in httpx.get(server + "/metrics").text,
             "a failed webhook delivery", timeout=20)
    receiver = Receiver(9009, SECRET)
    receiver.start()
    try:
        wait_for(lambda: receiver.alerts, "the alert at the webhook once it is back", timeout=60)
        assert receiver.alerts[0]["feature"] == "unsafe-code/python" and receiver.bad == 0
    finally:
        receiver.stop()


def test_profile_applies_its_steering(client):
    r = ask(client, "What is your favourite food?", extra_headers={"X-Steering-Profile": "support-bot"})
    applied = {a["feature"]: a["op"] for a in r.model_extra["steering"]["applied"]}
    assert applied == {"golden-gate/bridge": "clamp", "unsafe-code/python": "monitor"}
