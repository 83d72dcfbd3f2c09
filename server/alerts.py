"""Out-of-band delivery of monitor alerts: a log line, a signed webhook, counted in Prometheus.

Inference must never wait on a receiver. ``AlertDispatcher.emit`` is synchronous and only does ``put_nowait``
onto one bounded queue per sink; a worker task per sink does the (possibly slow, retried) delivery. When a queue
is full, a rate limit is hit, retries run out or the server stops with alerts still queued, the alert is dropped
and counted in ``steerserve_alerts_dropped_total``: losing an alert is visible, stalling a request is not an option.

Webhook receivers verify ``X-Steerserve-Signature: sha256=<hex>``, the HMAC-SHA256 with the shared secret over
``f"{X-Steerserve-Timestamp}.".encode() + raw_body`` (see ``verify_signature``), and should reject stale timestamps
to defeat replays. The timestamp is fresh on every attempt, so a retry after a long outage is still fresh.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import math
import random
import re
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx

from server.metrics import Metrics

log = logging.getLogger(__name__)
alert_log = logging.getLogger("steerserve.alerts")

EXCERPT_MAX = 200
ID_MAX = 128

# C0/C1 controls (newlines, ANSI escapes), DEL, Unicode line/paragraph separators and bidi overrides: anything that
# could start a fake log line or visually rewrite one. Whitespace controls become a space, the rest go.
_WHITESPACE = re.compile(r"[\t\n\r\v\f\u2028\u2029\x85]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _clean(text: str, limit: int) -> str:
    """Untrusted text as a single printable line of at most ``limit`` characters (an ellipsis marks a cut)."""
    text = _CONTROL.sub("", _WHITESPACE.sub(" ", str(text)))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def make_excerpt(text: str) -> str:
    """Prompt/model text shown with an alert, as one line of ≤ 200 characters without control characters: the text
    is user- or model-controlled, so it must not be able to forge log lines or smuggle terminal escapes."""
    return _clean(text, EXCERPT_MAX)


def _finite(v: float | None) -> float | None:  # JSON has no NaN/Infinity: strict receivers reject the whole body
    return v if v is not None and math.isfinite(v) else None


@dataclass(frozen=True)
class Alert:
    """One monitor firing, as delivered to sinks. Strings are sanitised in ``payload``, not trusted here."""

    request_id: str
    model: str
    feature: str  # "pack/feature"
    action: str  # log | flag | block | steer
    token_index: int
    value: float
    threshold: float | None
    phase: str  # "prompt" | "completion"
    time: float  # unix seconds
    key_name: str | None = None
    excerpt: str = ""

    @classmethod
    def event(cls, model: str, feature: str, action: str, phase: str, key_name: str | None, excerpt: str) -> Alert:
        """An alert that is not a monitor firing on a request: an admin change, a denied attempt to turn off a
        mandatory monitor (``request_id`` "-", no token, no value)."""
        return cls(request_id="-", model=model, feature=feature, action=action, token_index=-1, value=0.0,
                   threshold=None, phase=phase, time=time.time(), key_name=key_name, excerpt=excerpt)

    def payload(self) -> dict:
        """The JSON object every sink sends. Request id, model and key come from clients, so they are cleaned."""
        return {
            "event": "steerserve.alert",
            "request_id": _clean(self.request_id, ID_MAX),
            "model": _clean(self.model, ID_MAX),
            "feature": _clean(self.feature, ID_MAX),
            "action": _clean(self.action, 16),
            "token_index": int(self.token_index),
            "value": _finite(float(self.value)),
            "threshold": _finite(None if self.threshold is None else float(self.threshold)),
            "phase": _clean(self.phase, 16),
            "time": _finite(float(self.time)),
            "key_name": None if self.key_name is None else _clean(self.key_name, ID_MAX),
            "excerpt": make_excerpt(self.excerpt),
        }


class Sink(Protocol):
    """A delivery target. ``send`` raises when the alert could not be delivered."""

    name: str

    async def send(self, alert: Alert) -> None: ...


class DeliveryFailed(Exception):
    """A sink gave up on an alert after counting its own failed attempts (so the dispatcher only counts the drop)."""


class LogSink:
    """One JSON line per alert on logger ``steerserve.alerts``; ``json.dumps`` escapes anything left that could
    break the line, so log shippers see exactly one record per alert."""

    name = "log"

    async def send(self, alert: Alert) -> None:
        alert_log.warning(json.dumps(alert.payload(), separators=(",", ":"), allow_nan=False))


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``X-Steerserve-Signature`` value: ``sha256=`` + HMAC-SHA256(secret, f"{timestamp}.".encode() + body)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, timestamp: int | str, body: bytes, header: str, *,
                     tolerance_s: float | None = None, now: float | None = None) -> bool:
    """Receiver-side check of a webhook (constant-time). With ``tolerance_s``, stale timestamps fail too (replays)."""
    if tolerance_s is not None:
        try:
            if abs((time.time() if now is None else now) - int(timestamp)) > tolerance_s:
                return False
        except ValueError:
            return False
    return hmac.compare_digest(sign(secret, timestamp, body).encode(), str(header).encode())


class WebhookSink:
    """POSTs each alert as JSON, retrying transient failures with capped exponential backoff.

    Retried: transport errors (connect, timeout, reset), 429 and 5xx. Other 4xx mean the receiver rejects this
    request, so repeating it cannot help. Every failed attempt counts in ``alert_sink_failures_total{sink="webhook"}``;
    a WebhookSink built without ``metrics`` adopts its dispatcher's. The retries run in the sink's worker, so a
    down receiver only delays this sink's later alerts. ``sleep`` is injectable so tests need not wait.
    """

    name = "webhook"

    def __init__(self, url: str, *, secret: str | None = None, metrics: Metrics | None = None, timeout_s: float = 5.0,
                 max_retries: int = 8, backoff_base_s: float = 0.5, backoff_max_s: float = 30.0,
                 client: httpx.AsyncClient | None = None,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.url, self.secret, self.metrics, self.timeout_s = url, secret, metrics, timeout_s
        self.max_retries, self.backoff_base_s, self.backoff_max_s = max_retries, backoff_base_s, backoff_max_s
        self._client, self._owns_client, self._sleep = client, client is None, sleep

    def backoff(self, attempt: int) -> float:
        """Delay before retry ``attempt`` (0-based): base * 2**attempt, capped, plus ≤10% jitter against herds."""
        delay = min(self.backoff_max_s, self.backoff_base_s * 2 ** min(attempt, 30))
        return delay * (1 + random.uniform(0, 0.1))

    def _failed(self) -> None:
        if self.metrics is not None:
            self.metrics.sink_failures.labels(self.name).inc()

    async def send(self, alert: Alert) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient()
        body = json.dumps(alert.payload(), separators=(",", ":"), allow_nan=False).encode()  # signed bytes == sent
        for attempt in range(self.max_retries + 1):
            ts = int(time.time())
            headers = {"Content-Type": "application/json", "X-Steerserve-Timestamp": str(ts)}
            if self.secret:
                headers["X-Steerserve-Signature"] = sign(self.secret, ts, body)
            try:
                r = await self._client.post(self.url, content=body, headers=headers, timeout=self.timeout_s)
            except httpx.TransportError as e:
                self._failed()
                reason = type(e).__name__
            else:
                if r.is_success:
                    return
                self._failed()
                reason = f"HTTP {r.status_code}"
                if r.status_code != 429 and r.status_code < 500:
                    raise DeliveryFailed(f"webhook rejected alert: {reason}")
            if attempt < self.max_retries:
                log.debug("webhook attempt %d failed (%s), retrying", attempt + 1, reason)
                await self._sleep(self.backoff(attempt))
        raise DeliveryFailed(f"webhook gave up after {self.max_retries + 1} attempts: {reason}")

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None


class AlertDispatcher:
    """Fans alerts out to sinks through bounded per-sink queues, so one slow sink never holds up another."""

    def __init__(self, sinks: Sequence[Sink], metrics: Metrics, *, queue_size: int = 1000,
                 rate_limit_per_s: float | None = None, burst: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sinks = list(sinks)
        self.metrics = metrics
        for s in self.sinks:
            if isinstance(s, WebhookSink) and s.metrics is None:
                s.metrics = metrics
        self.queues: list[asyncio.Queue[Alert]] = [asyncio.Queue(maxsize=queue_size) for _ in self.sinks]
        self.rate = rate_limit_per_s
        self.capacity = float(burst if burst is not None else max(1.0, rate_limit_per_s or 1.0))
        self._tokens, self._clock, self._last = self.capacity, clock, clock()
        self._workers: list[asyncio.Task] = []
        self._inflight: list[Alert | None] = [None] * len(self.sinks)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._closed = False

    def _allow(self) -> bool:
        """Token bucket over all alerts: an alert storm (e.g. a jailbreak wave) must not flood the receivers."""
        if self.rate is None:
            return True
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def emit(self, alert: Alert) -> None:
        """Count and enqueue an alert. Never blocks, never raises; safe from an engine thread too."""
        try:
            loop = self._loop
            if loop is not None and threading.get_ident() != self._loop_thread and not loop.is_closed():
                loop.call_soon_threadsafe(self._enqueue, alert)  # asyncio.Queue is not thread-safe: hop loops
            else:
                self._enqueue(alert)
        except Exception:  # an alert must never fail the request that raised it
            log.exception("alert emit failed")
            self.metrics.alerts_dropped.inc()

    def _enqueue(self, alert: Alert) -> None:
        pack, _, feature = alert.feature.partition("/")
        self.metrics.alerts.labels(pack, feature, alert.action).inc()
        if self._closed or not self._allow():
            self.metrics.alerts_dropped.inc()
            return
        for q in self.queues:
            try:
                q.put_nowait(alert)
            except asyncio.QueueFull:
                self.metrics.alerts_dropped.inc()

    async def start(self) -> None:
        """One worker per sink; alerts emitted before start are waiting in the queues already."""
        self._loop, self._loop_thread = asyncio.get_running_loop(), threading.get_ident()
        self._closed = False
        self._workers = [asyncio.create_task(self._work(i), name=f"alert-sink-{s.name}")
                         for i, s in enumerate(self.sinks)]
        for i, s in enumerate(self.sinks):  # read at scrape time: queued + the one being sent or retried
            self.metrics.alert_queue.labels(s.name).set_function(
                lambda i=i: self.queues[i].qsize() + (self._inflight[i] is not None))

    async def _work(self, i: int) -> None:
        sink, q = self.sinks[i], self.queues[i]
        while True:
            alert = await q.get()
            self._inflight[i] = alert
            try:
                await sink.send(alert)
                self.metrics.delivered.labels(sink.name).inc()
            except DeliveryFailed as e:
                self.metrics.alerts_dropped.inc()
                log.warning("alert %s dropped by sink %s: %s", alert.feature, sink.name, e)
            except Exception:  # a broken sink must not kill its worker; the alert is lost and counted
                self.metrics.sink_failures.labels(sink.name).inc()
                self.metrics.alerts_dropped.inc()
                log.exception("alert sink %s failed", sink.name)
            finally:
                self._inflight[i] = None
                q.task_done()

    async def stop(self, timeout: float = 5.0) -> None:
        """Deliver what can be delivered within ``timeout``, then cancel; whatever is left counts as dropped."""
        self._closed = True
        if self._workers:
            try:
                await asyncio.wait_for(asyncio.gather(*(q.join() for q in self.queues)), timeout)
            except TimeoutError:
                log.warning("alert sinks did not drain within %.1fs", timeout)
        lost = sum(a is not None for a in self._inflight)
        for w in self._workers:
            w.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers, self._loop = [], None  # later emits (any thread) only count the drop
        for q in self.queues:
            while not q.empty():
                q.get_nowait()
                q.task_done()
                lost += 1
        self.metrics.alerts_dropped.inc(lost)
        for close in (getattr(s, "aclose", None) for s in self.sinks):
            if close is not None:
                await close()
