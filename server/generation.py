"""Generations shared by chat and text completions: admission, one engine request per choice, running them
(``CompletionService.run``) or streaming them as server-sent events (``.stream``), and the ``steering`` field of
the choices. What differs per resource (prompt, chunk and body shapes) is in ``server/openai/<resource>/``."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from server.alerts import Alert, AlertDispatcher, make_excerpt
from server.engines.base import Delta, Engine, GenerateRequest, SamplingParams
from server.errors import APIError
from server.metrics import Metrics
from server.protocol import SamplingRequest, new_id, usage
from server.steering_service import RequestSteering, alerts_of, steering_field
from steering.config import FeatureRef

log = logging.getLogger("steerserve.serving")


@dataclass
class Choice:
    index: int
    text: str = ""
    finish_reason: str | None = None
    logprobs: list = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)
    monitors: dict | None = None
    positions: dict | None = None
    token_ids: list[int] = field(default_factory=list)
    token_readings: dict | None = None
    tokens: list[dict] | None = None  # the per-token report, when asked for
    prompt_tokens: int = 0
    completion_tokens: int = 0


async def until_disconnected(request, coro):
    """Run ``coro`` but cancel it as soon as the client disconnects (then the engine aborts the request and
    frees its config row). vLLM's ``with_cancellation`` does the same."""
    task = asyncio.ensure_future(coro)

    async def watch() -> None:
        while True:
            msg = await request.receive()
            if msg["type"] == "http.disconnect":
                return

    watcher = asyncio.ensure_future(watch())
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            return task.result()
        task.cancel()
        raise APIError("client disconnected", status=499, code="client_disconnected")
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()


class Admission:
    """A bound on generations in the server, running and waiting together: past ``limit`` a request is answered
    at once with 429 ``server_overloaded`` and ``Retry-After`` instead of joining an unbounded queue (where it
    would wait minutes and likely time out at the client anyway)."""

    RETRY_AFTER_S = 2

    def __init__(self, limit: int, metrics: Metrics) -> None:
        self.limit, self.metrics, self.in_flight = limit, metrics, 0

    def reserve(self, n: int) -> Callable[[], None]:
        """Take ``n`` places (one per choice) or raise the 429; returns an idempotent release."""
        if self.in_flight + n > self.limit:
            self.metrics.rejected.labels("server_overloaded").inc()
            raise APIError(f"the server is overloaded ({self.in_flight} generations in progress, limit {self.limit});"
                           f" retry after {self.RETRY_AFTER_S} s", status=429, code="server_overloaded",
                           type_="rate_limit_error", headers={"Retry-After": str(self.RETRY_AFTER_S)})
        self.in_flight += n
        held = [n]

        def release() -> None:
            self.in_flight -= held.pop() if held else 0

        return release


class CompletionService:
    def __init__(self, engine: Engine, metrics: Metrics, alerts: AlertDispatcher, max_tokens_default: int = 512,
                 max_in_flight: int = 1 << 30):
        self.engine, self.metrics, self.alerts = engine, metrics, alerts
        self.max_tokens_default = max_tokens_default
        self.admission = Admission(max_in_flight, metrics)

    def denied_mandatory(self, feature: str, key_name: str | None) -> None:
        """An attempt to switch off a mandatory monitor: counted and alerted (the request itself gets 403)."""
        self.alerts.emit(Alert.event(self.engine.model_info().id, feature, "denied", "request", key_name,
                                     "attempt to turn off a mandatory monitor"))

    def emit_alerts(self, rid: str, alerts: list[dict], steering: RequestSteering, key_name: str | None,
                    text: str) -> None:
        for a in alerts:
            self.alerts.emit(Alert(request_id=rid, model=self.engine.model_info().id, feature=a["feature"],
                                   action=a["action"], token_index=a["token_index"], value=a["value"],
                                   threshold=a["threshold"], phase=a["phase"], time=time.time(), key_name=key_name,
                                   excerpt=make_excerpt(text)))

    def check_model(self, name: str) -> None:
        if name != self.engine.model_info().id:
            raise APIError(f"The model '{name[:100]}' does not exist", status=404, code="model_not_found",
                           param="model", type_="not_found_error")

    def sampling(self, req: SamplingRequest, prompt_len: int, i: int) -> SamplingParams:
        room = self.engine.model_info().max_model_len - prompt_len
        if room <= 0:
            raise APIError(f"This model's maximum context length is {self.engine.model_info().max_model_len} tokens; "
                           f"the prompt has {prompt_len}.", code="context_length_exceeded", param="messages")
        return req.to_sampling_params(min(req.requested_max_tokens or self.max_tokens_default, room), i)

    def _requests(self, req, prompt_ids: list[int], steering: RequestSteering, rid: str) -> list[GenerateRequest]:
        if req.stream_options is not None and not req.stream:
            raise APIError("stream_options is only allowed when stream is true", param="stream_options")
        report = steering.report == "tokens"
        if report and req.n != 1:
            raise APIError("steering.report 'tokens' needs n = 1", param="steering.report")
        if report and not hasattr(self.engine, "token_texts"):
            raise APIError("steering.report 'tokens' is not available on this engine (the embedded HF engine has "
                           "it)", param="steering.report", code="unsupported_on_engine")
        return [GenerateRequest(f"{rid}-{i}", prompt_ids, self.sampling(req, len(prompt_ids), i), steering.config,
                                steering.block_on, steering.steer_on, report) for i in range(req.n)]

    def token_report(self, prompt_ids: list[int], c: Choice) -> list[dict]:
        """``steering.tokens``: every token of prompt and completion with its monitored features' readings (none
        for the attention sink, position 0, and for the last token, which the model never read back)."""
        ids = prompt_ids + c.token_ids
        texts = self.engine.token_texts(ids)
        traces = c.token_readings or {}
        return [{"index": i, "token": texts[i], "phase": "prompt" if i < len(prompt_ids) else "completion",
                 "readings": {name: round(t[i], 5) for name, t in traces.items() if i in t}}
                for i in range(len(ids))]

    def _account(self, steering: RequestSteering, choice: Choice) -> None:
        self.metrics.tokens.inc(choice.completion_tokens)
        # the receipt: a feature that should edit but edited nothing where the model ran is a fault to see
        ran = choice.prompt_tokens - 1 + max(choice.completion_tokens - 1, 0)  # positions past the sink
        for (pack, feat), (op, _) in steering.config.items():
            if op == "monitor" or choice.positions is None:
                continue
            n = choice.positions.get(f"{pack}/{feat}", 0)
            self.metrics.edited_positions.labels(pack).inc(n)
            if n == 0 and ran > 0 and choice.finish_reason not in ("abort", "error"):
                self.metrics.not_applied.labels(pack).inc()
                log.warning("steering NOT applied: %s/%s:%s edited 0 of %d positions", pack, feat, op, ran)
        for name, m in (choice.monitors or {}).items():
            pack, feat = FeatureRef.parse(name)
            if m.get("max") is not None:
                self.metrics.activation.labels(pack, feat).observe(m["max"])

    def count_steered(self, steering: RequestSteering) -> None:
        for pack in sorted({p for p, _ in steering.config}):
            self.metrics.steered.labels(pack).inc()

    async def run(self, req, prompt_ids: list[int], steering: RequestSteering,
                  key_name: str | None = None) -> tuple[str, list[Choice]]:
        """Non-streaming: run the ``n`` choices concurrently and collect them."""
        rid = new_id("req")
        gens = self._requests(req, prompt_ids, steering, rid)
        release = self.admission.reserve(len(gens))
        self.count_steered(steering)

        async def one(i: int, g: GenerateRequest) -> Choice:
            c = Choice(i)
            async for d in self.engine.generate(g):
                alerts = self._add_delta(c, d, steering)
                self.emit_alerts(g.request_id, alerts, steering, key_name, c.text)
            self._account(steering, c)
            if g.report_tokens:
                c.tokens = self.token_report(g.prompt_ids, c)
            return c

        try:
            return rid, list(await asyncio.gather(*(one(i, g) for i, g in enumerate(gens))))
        finally:
            release()

    @staticmethod
    def _add_delta(c: Choice, d: Delta, steering: RequestSteering) -> list[dict]:
        """Add one delta to its choice. On the last one, notes of annotate monitors that fired are appended to the
        delta's text (so the final stream chunk carries them) and to the choice's."""
        alerts = alerts_of(d.events, steering)
        c.alerts += alerts
        if d.finish_reason is not None and d.finish_reason != "error":
            d.text += "".join("\n\n" + a["note"] for a in steering.annotations(c.alerts))
        c.text += d.text
        c.logprobs += d.logprobs
        c.token_ids += d.token_ids
        c.prompt_tokens, c.completion_tokens = d.prompt_tokens, d.completion_tokens
        if d.finish_reason is not None:
            c.finish_reason, c.monitors, c.positions = d.finish_reason, d.monitors, d.positions
            c.token_readings = d.token_readings
        return alerts

    async def stream(self, req, prompt_ids: list[int], steering: RequestSteering, chunk,
                     key_name: str | None = None) -> AsyncIterator[str]:
        """Streaming. Starts every choice and waits for its first delta *before* returning the SSE iterator, so
        errors that happen at admission (capacity, context) are still plain HTTP errors, not a broken stream.
        ``chunk(choice_index, delta, finish, choice_state)`` builds one chunk dict."""
        rid = new_id("req")
        gens = self._requests(req, prompt_ids, steering, rid)
        release = self.admission.reserve(len(gens))
        streams = [self.engine.generate(g) for g in gens]
        try:
            firsts = list(await asyncio.gather(*(s.__anext__() for s in streams)))
        except BaseException:
            release()
            for s in streams:
                await s.aclose()
            raise
        self.count_steered(steering)
        sse = self._sse(req, gens, streams, firsts, steering, chunk, key_name, release)
        weakref.finalize(sse, release)  # a response whose body never started still gives its places back
        return sse

    async def _sse(self, req, gens, streams, firsts, steering, chunk, key_name, release) -> AsyncIterator[str]:
        q: asyncio.Queue = asyncio.Queue()
        choices = [Choice(i) for i in range(len(gens))]

        async def pump(i: int, first: Delta) -> None:
            try:
                await q.put((i, first))
                if first.finish_reason is None:
                    async for d in streams[i]:
                        await q.put((i, d))
            except Exception:  # an engine fault mid-stream goes in-band, then [DONE]
                log.exception("stream %s failed", gens[i].request_id)
                await q.put((i, Delta(finish_reason="error")))
            finally:
                await q.put((i, None))

        tasks = [asyncio.create_task(pump(i, f)) for i, f in enumerate(firsts)]
        try:
            for i in range(len(gens)):
                yield _sse(chunk(i, None, None, choices[i], role=True))
            live = len(gens)
            while live:
                i, d = await q.get()
                if d is None:
                    live -= 1
                    continue
                c = choices[i]
                alerts = self._add_delta(c, d, steering)
                self.emit_alerts(gens[i].request_id, alerts, steering, key_name, c.text)
                if d.text or d.finish_reason or alerts:
                    body = chunk(i, d, d.finish_reason, c)
                    if alerts:
                        body["steering"] = {"alerts": alerts}
                    yield _sse(body)
                if d.finish_reason is not None:
                    self._account(steering, c)
                    if gens[i].report_tokens:
                        c.tokens = self.token_report(gens[i].prompt_ids, c)
            last = chunk(0, None, None, choices[0], empty=True)
            last["steering"] = choices_steering(steering, choices)
            if req.stream_options and req.stream_options.include_usage:
                last["usage"] = total_usage(choices)
            yield _sse(last)
            yield "data: [DONE]\n\n"
        finally:
            release()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for s in streams:
                await s.aclose()


def choices_steering(steering: RequestSteering, choices: list[Choice]) -> dict:
    """The response's ``steering`` field over all choices (non-streaming body, or the last stream chunk)."""
    return steering_field(steering, _merge_monitors(choices), [a for c in choices for a in c.alerts],
                          _sum_positions(choices), choices[0].tokens)


def total_usage(choices: list[Choice]) -> dict[str, int]:
    return usage(choices[0].prompt_tokens, sum(c.completion_tokens for c in choices))


def _merge_monitors(choices: list[Choice]) -> dict:
    return choices[0].monitors or {} if len(choices) == 1 else {
        k: v for c in reversed(choices) for k, v in (c.monitors or {}).items()}


def _sum_positions(choices: list[Choice]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in choices:
        for k, n in (c.positions or {}).items():
            out[k] = out.get(k, 0) + n
    return out


def _sse(obj: dict) -> str:
    return f"data: {json.dumps(obj, separators=(',', ':'))}\n\n"
