"""Alert delivery: emit never blocks the request path, webhooks are signed and retried, drops are counted."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import threading
import time

import httpx
import pytest

from server.alerts import Alert, AlertDispatcher, LogSink, WebhookSink, make_excerpt, verify_signature
from server.metrics import Metrics

URL = "http://receiver.test/hook"


def alert(i: int = 0, **kw) -> Alert:
    fields = dict(request_id=f"req-{i}", model="fake-model", feature="safety/unsafe-code", action="flag",
                  token_index=i, value=3.5, threshold=0.5, phase="completion", time=1_700_000_000.0,
                  key_name="team-a", excerpt="rm -rf /")
    return Alert(**{**fields, **kw})


def sample(metrics: Metrics, name: str, **labels) -> float:
    return metrics.registry.get_sample_value(name, labels or None) or 0.0


def dropped(metrics: Metrics) -> float:
    return sample(metrics, "steerserve_alerts_dropped_total")


def failures(metrics: Metrics) -> float:
    return sample(metrics, "steerserve_alert_sink_failures_total", sink="webhook")


class Hanging:
    name = "hang"

    async def send(self, alert: Alert) -> None:
        await asyncio.Event().wait()


class Collect:
    name = "collect"

    def __init__(self) -> None:
        self.got: list[Alert] = []

    async def send(self, alert: Alert) -> None:
        self.got.append(alert)


def webhook(handler, metrics: Metrics, **kw) -> tuple[WebhookSink, list[float]]:
    """A webhook over an in-process transport whose backoff sleeps are recorded, not slept."""
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return WebhookSink(URL, metrics=metrics, client=client, sleep=sleep, **kw), slept


async def test_emit_never_blocks_on_hanging_sink():
    m = Metrics()
    d = AlertDispatcher([Hanging()], m, queue_size=100)
    await d.start()
    t0 = time.perf_counter()
    for i in range(10_000):
        d.emit(alert(i))
    assert time.perf_counter() - t0 < 2.0
    assert dropped(m) == 10_000 - 100
    assert sample(m, "steerserve_alerts_total", pack="safety", feature="unsafe-code", action="flag") == 10_000
    await asyncio.sleep(0)  # the worker takes one alert into send
    assert sample(m, "steerserve_alert_queue_depth", sink="hang") == 100  # 99 queued + 1 being sent
    await d.stop(timeout=0.05)  # one alert stuck in send, 99 queued: all undelivered, all counted
    assert dropped(m) == 10_000


async def test_emit_never_raises():
    m = Metrics()
    d = AlertDispatcher([Collect()], m)
    d.emit(alert(feature="no-slash", value=float("nan")))  # odd inputs are still counted, not raised
    await d.start()
    await d.stop()
    assert dropped(m) == 0


async def test_webhook_signed_delivery():
    m = Metrics()
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    sink, _ = webhook(handler, m, secret="s3cret")
    d = AlertDispatcher([sink], m)
    await d.start()
    d.emit(alert(7))
    await d.stop()
    assert len(seen) == 1
    req = seen[0]
    body, ts, sig = req.content, req.headers["X-Steerserve-Timestamp"], req.headers["X-Steerserve-Signature"]
    assert req.headers["Content-Type"] == "application/json"
    assert verify_signature("s3cret", ts, body, sig)
    assert verify_signature("s3cret", ts, body, sig, tolerance_s=300)
    expected = hmac.new(b"s3cret", ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert sig == "sha256=" + expected
    assert not verify_signature("wrong", ts, body, sig)
    assert not verify_signature("s3cret", ts, body + b" ", sig)
    assert not verify_signature("s3cret", int(ts) - 3600, body, sig, tolerance_s=300)
    p = json.loads(body)
    assert p["event"] == "steerserve.alert"
    assert p | {"event": None} == {
        "event": None, "request_id": "req-7", "model": "fake-model", "feature": "safety/unsafe-code", "action": "flag",
        "token_index": 7, "value": 3.5, "threshold": 0.5, "phase": "completion", "time": 1_700_000_000.0,
        "key_name": "team-a", "excerpt": "rm -rf /"}
    assert dropped(m) == 0 and failures(m) == 0


async def test_webhook_without_secret_is_unsigned():
    m = Metrics()
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    sink, _ = webhook(handler, m)
    await sink.send(alert())
    assert "X-Steerserve-Signature" not in seen[0].headers


async def test_receiver_down_then_up():
    m = Metrics()
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls <= 3:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200)

    sink, slept = webhook(handler, m, secret="k", backoff_base_s=0.01, backoff_max_s=0.03)
    d = AlertDispatcher([sink], m)
    await d.start()
    d.emit(alert())
    await d.stop()
    assert calls == 4
    assert failures(m) == 3
    assert dropped(m) == 0
    assert sample(m, "steerserve_alerts_delivered_total", sink="webhook") == 1  # late, not lost
    assert len(slept) == 3
    for s, base in zip(slept, (0.01, 0.02, 0.03), strict=True):  # exponential, capped, ≤10% jitter
        assert base <= s <= base * 1.1


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_retries_exhausted_drop(status):
    m = Metrics()
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(status)

    sink, slept = webhook(handler, m, max_retries=4)
    d = AlertDispatcher([sink], m)
    await d.start()
    d.emit(alert())
    await d.stop()
    assert calls == 5 and len(slept) == 4
    assert failures(m) == 5
    assert dropped(m) == 1
    assert sample(m, "steerserve_alerts_delivered_total", sink="webhook") == 0


async def test_timeouts_are_retried():
    m = Metrics()

    async def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    sink, _ = webhook(handler, m, max_retries=2)
    d = AlertDispatcher([sink], m)
    await d.start()
    d.emit(alert())
    await d.stop()
    assert failures(m) == 3 and dropped(m) == 1


async def test_client_error_not_retried():
    m = Metrics()
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(400)

    sink, slept = webhook(handler, m)
    d = AlertDispatcher([sink], m)
    await d.start()
    d.emit(alert())
    await d.stop()
    assert calls == 1 and slept == []
    assert failures(m) == 1 and dropped(m) == 1


def test_excerpt_truncated_and_escaped():
    evil = ("line\nFAKE LOG ENTRY\r\n\x1b[31mred\x00\u2028" * 400)[:10_000]
    ex = make_excerpt(evil)
    assert len(ex) <= 200
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029" for c in ex)
    assert "\x1b" not in ex and "\n" not in ex
    assert ex.startswith("line FAKE LOG ENTRY [31mred")
    p = alert(request_id="id\n" + "x" * 500, model="m\x1b", key_name="k\r\nINFO forged", excerpt=evil).payload()
    assert len(p["request_id"]) <= 128 and "\n" not in p["request_id"]
    assert p["model"] == "m" and p["key_name"] == "k INFO forged"
    assert len(p["excerpt"]) <= 200


async def test_log_sink_one_line(caplog):
    m = Metrics()
    d = AlertDispatcher([LogSink()], m)
    await d.start()
    with caplog.at_level(logging.WARNING, logger="steerserve.alerts"):
        d.emit(alert(excerpt='say "hi"\n' * 2000 + "\x1b[31m", request_id="r\nERROR admin logged in"))
        await d.stop()
    records = [r for r in caplog.records if r.name == "steerserve.alerts"]
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    line = records[0].getMessage()
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    p = json.loads(line)
    assert p["event"] == "steerserve.alert" and len(p["excerpt"]) <= 200
    assert p["request_id"] == "r ERROR admin logged in"


async def test_rate_limit():
    m = Metrics()
    sink = Collect()
    d = AlertDispatcher([sink], m, rate_limit_per_s=5)
    await d.start()
    for i in range(100):
        d.emit(alert(i))
    await d.stop()
    assert 5 <= len(sink.got) <= 6
    assert dropped(m) == 100 - len(sink.got)
    assert sample(m, "steerserve_alerts_total", pack="safety", feature="unsafe-code", action="flag") == 100


async def test_rate_limit_refills():
    now = [0.0]
    m = Metrics()
    sink = Collect()
    d = AlertDispatcher([sink], m, rate_limit_per_s=2, clock=lambda: now[0])
    for i in range(5):
        d.emit(alert(i))
    now[0] = 1.0  # one second later: two more tokens
    for i in range(5):
        d.emit(alert(10 + i))
    await d.start()
    await d.stop()
    assert [a.token_index for a in sink.got] == [0, 1, 10, 11]
    assert dropped(m) == 6


async def test_stop_drains_queue():
    m = Metrics()
    sink = Collect()
    d = AlertDispatcher([sink, LogSink()], m)
    for i in range(50):
        d.emit(alert(i))  # queued before start: nothing delivered yet
    assert sink.got == []
    await d.start()
    await d.stop()
    assert [a.token_index for a in sink.got] == list(range(50))
    assert dropped(m) == 0
    d.emit(alert(99))  # after stop: counted as dropped, not queued forever
    assert dropped(m) == 1


async def test_slow_sink_does_not_delay_other_sink():
    m = Metrics()
    fast = Collect()
    d = AlertDispatcher([Hanging(), fast], m)
    await d.start()
    d.emit(alert())
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(fast.got) == 1
    await d.stop(timeout=0.01)
    assert dropped(m) == 1  # the hanging sink's in-flight alert


async def test_emit_from_engine_thread():
    m = Metrics()
    sink = Collect()
    d = AlertDispatcher([sink], m)
    await d.start()
    t = threading.Thread(target=lambda: [d.emit(alert(i)) for i in range(20)])
    t.start()
    await asyncio.to_thread(t.join)
    await asyncio.sleep(0)
    await d.stop()
    assert len(sink.got) == 20 and dropped(m) == 0
