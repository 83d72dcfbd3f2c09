"""Monitor readings and steering receipts from vLLM workers back to the steerserve API process.

vLLM's own output path carries tokens only, so each worker pushes a small JSON message per steered request and
step over a ZeroMQ PUSH socket (pyzmq ships with vLLM) to the address in ``STEERSERVE_READINGS_ADDR``; the API
process binds the PULL end (:class:`ReadingsInbox`). A message says how many of the request's tokens have gone
through the model (``computed``), which monitors fired for the first time in that step, the running summary, and
the positions the op edited so far per feature (the receipt).
The API process holds a request's output back until the readings that cover it have arrived, so a ``block``
action stops a request before any text past the firing token leaves the server (see docs/decisions.md).
Sending never blocks the worker: when the inbox is gone or full, messages are dropped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from dataclasses import dataclass, field

from steering.monitor import MonitorEvent

ADDR_ENV = "STEERSERVE_READINGS_ADDR"
log = logging.getLogger("steerserve.vllm")


class ReadingsPublisher:
    """Worker end (PUSH). Created only when the API process asked for readings (``ADDR_ENV`` is set)."""

    def __init__(self, addr: str) -> None:
        import zmq

        self._zmq = zmq
        self.sock = zmq.Context.instance().socket(zmq.PUSH)
        self.sock.setsockopt(zmq.SNDHWM, 100_000)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(addr)
        self.dropped = 0

    @classmethod
    def from_env(cls) -> ReadingsPublisher | None:
        addr = os.environ.get(ADDR_ENV)
        return cls(addr) if addr else None

    @staticmethod
    def reading(key: str | None, computed: int, events: list[MonitorEvent], summary: dict | None,
                positions: dict[str, int] | None = None) -> dict:
        """One request's reading for one step: monitor summary and events, and the receipt (positions edited)."""
        return {"id": key, "computed": computed, "summary": summary, "positions": positions,
                "events": [[e.feature[0], e.feature[1], e.token_index, e.value, e.phase, e.threshold] for e in events]}

    def send(self, readings: list[dict]) -> None:
        """All readings of one step in one message (one encode, one send, one wake-up of the API process)."""
        try:
            self.sock.send(json.dumps(readings).encode(), self._zmq.NOBLOCK)
        except self._zmq.Again:
            self.dropped += len(readings)


@dataclass
class RequestReadings:
    computed: int = 0
    events: list[MonitorEvent] = field(default_factory=list)
    summary: dict | None = None
    positions: dict[str, int] | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class ReadingsInbox:
    """API-process end (PULL), read by an asyncio task. ``expect(id)`` before the request starts, ``drop(id)``
    when it ends; messages for unknown ids (already finished) are ignored."""

    def __init__(self, addr: str) -> None:
        self.addr = addr
        self.sock = None
        self.requests: dict[str, RequestReadings] = {}
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Bind and start reading; call from the event loop that serves requests."""
        import zmq
        import zmq.asyncio

        self.sock = zmq.asyncio.Context.instance().socket(zmq.PULL)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(self.addr)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                batch = json.loads(await self.sock.recv())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("bad readings message")
                continue
            for msg in batch:
                r = self.requests.get(msg.get("id"))
                if r is None:
                    continue
                r.computed = max(r.computed, int(msg["computed"]))
                r.summary = msg["summary"] or r.summary
                r.positions = msg.get("positions") or r.positions
                r.events += [MonitorEvent((p, f), int(t), float(v), ph, thr) for p, f, t, v, ph, thr in msg["events"]]
                r.changed.set()

    def expect(self, key: str) -> RequestReadings:
        r = self.requests[key] = RequestReadings()
        return r

    def drop(self, key: str) -> None:
        self.requests.pop(key, None)

    async def wait_for(self, key: str, computed: int, timeout: float) -> RequestReadings | None:
        """The request's readings once they cover ``computed`` tokens (or whatever arrived by ``timeout``)."""
        r = self.requests.get(key)
        if r is None:
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while r.computed < computed:
            r.changed.clear()
            left = deadline - loop.time()
            if left <= 0:
                log.warning("monitor readings for %s cover %d of %d tokens after %.1fs", key, r.computed, computed,
                            timeout)
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(r.changed.wait(), left)
        return r

    def close(self) -> None:
        if self._task:
            self._task.cancel()
        if self.sock is not None:
            self.sock.close(0)
