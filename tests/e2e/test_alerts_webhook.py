"""Issue 3 acceptance on the real server: a firing monitor yields an alert in the response, in the metrics and at
the webhook; with the receiver down the alert is retried and delivered once it comes back; an inference key cannot
turn off the mandatory monitor. (The golden-gate topic monitor stands in until the unsafe-code pack ships.)"""

from __future__ import annotations

import os
import time

import httpx
import openai
import pytest

from server.policy import hash_key
from steerlab.webhook_receiver import Receiver
from tests.conftest import wait_for
from tests.e2e.conftest import free_port, start_server

pytestmark = pytest.mark.slow
SECRET = "webhook-secret"
INFER, ADMIN = "infer-key", "admin-key"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, model_path):
    port = free_port()
    cfg = tmp_path_factory.mktemp("cfg") / "policy.yaml"
    cfg.write_text(f"""
steering:
  mandatory_monitors: [golden-gate/bridge]
monitors:
  golden-gate/bridge: {{action: flag, threshold: 1.0}}
keys:
  admin: [{{name: ops, sha256: "{hash_key(ADMIN)}"}}]
  inference: [{{name: app, sha256: "{hash_key(INFER)}"}}]
alerts:
  log: true
  webhook: {{url: "http://127.0.0.1:{port}/alerts", secret_env: STEERSERVE_TEST_WEBHOOK_SECRET,
             backoff_base_s: 0.2, backoff_max_s: 1.0, max_retries: 30}}
""")
    os.environ["STEERSERVE_TEST_WEBHOOK_SECRET"] = SECRET
    proc, base = start_server("--config", str(cfg))
    receiver = Receiver(port, SECRET)
    yield base, receiver
    proc.terminate()
    proc.wait(timeout=30)
    receiver.stop()




def test_alert_in_response_metrics_and_webhook_after_receiver_comes_back(stack):
    base, receiver = stack
    client = openai.OpenAI(base_url=base + "/v1", api_key=INFER, max_retries=0)
    r = client.chat.completions.create(
        model="smollm2-135m-instruct", max_tokens=8, temperature=0,
        messages=[{"role": "user", "content": "Tell me about the Golden Gate Bridge in San Francisco."}])
    steering = r.model_extra["steering"]
    assert steering["monitors"]["golden-gate/bridge"]["fired"]
    assert steering["alerts"][0] == {**steering["alerts"][0], "feature": "golden-gate/bridge", "action": "flag"}
    assert steering["flagged"] is True
    metrics = httpx.get(base + "/metrics").text
    assert 'steerserve_alerts_total{action="flag",feature="bridge",pack="golden-gate"} 1.0' in metrics
    wait_for(lambda: 'steerserve_alert_sink_failures_total{sink="webhook"}' in httpx.get(base + "/metrics").text,
             "a failed delivery while the receiver is down", timeout=20)
    receiver.start()  # the receiver comes back: the queued alert is retried and delivered
    wait_for(lambda: receiver.alerts, "the alert at the webhook", timeout=20)
    assert receiver.alerts[0]["feature"] == "golden-gate/bridge" and receiver.bad == 0


def test_inference_key_cannot_disable_the_mandatory_monitor(stack):
    base, _ = stack
    client = openai.OpenAI(base_url=base + "/v1", api_key=INFER, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="smollm2-135m-instruct", max_tokens=4,
                                       messages=[{"role": "user", "content": "hi"}],
                                       extra_headers={"X-Steering": "golden-gate/bridge:off"})
    r = client.chat.completions.create(model="smollm2-135m-instruct", max_tokens=4,
                                       messages=[{"role": "user", "content": "hi"}])
    assert "golden-gate/bridge" in r.model_extra["steering"]["monitors"]
    assert httpx.get(base + "/v1/models").status_code == 401
    r = httpx.post(base + "/admin/packs/reload", headers={"Authorization": f"Bearer {INFER}"})
    assert r.status_code == 403


async def test_async_client_streaming_with_alert_on_the_chunk(stack):
    base, _ = stack
    client = openai.AsyncOpenAI(base_url=base + "/v1", api_key=INFER, max_retries=0)
    stream = await client.chat.completions.create(
        model="smollm2-135m-instruct", max_tokens=8, stream=True,
        messages=[{"role": "user", "content": "Describe San Francisco and the Golden Gate Bridge."}])
    alert_chunks, last = [], None
    async for chunk in stream:
        extra = chunk.model_extra or {}
        if "steering" in extra and "alerts" in extra["steering"] and chunk.choices:
            alert_chunks.append(extra["steering"]["alerts"])
        last = chunk
    assert alert_chunks and alert_chunks[0][0]["feature"] == "golden-gate/bridge"
    assert last.model_extra["steering"]["monitors"]["golden-gate/bridge"]["fired"]


def test_admin_reload_during_traffic_fails_no_request(stack):
    base, _ = stack
    import concurrent.futures as cf

    def ask(i):
        return httpx.post(base + "/v1/chat/completions", timeout=120, headers={"Authorization": f"Bearer {INFER}"},
                          json={"model": "smollm2-135m-instruct", "max_tokens": 12,
                                "messages": [{"role": "user", "content": f"Say a number: {i}"}],
                                "steering": "golden-gate/bridge:monitor"}).status_code

    with cf.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(ask, i) for i in range(8)]
        time.sleep(0.5)
        reload = httpx.post(base + "/admin/packs/reload", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60)
        codes = [f.result() for f in futures]
    assert reload.status_code == 200 and "golden-gate" in reload.json()["data"]
    assert codes == [200] * 8


