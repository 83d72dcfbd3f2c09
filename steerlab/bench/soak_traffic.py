"""The traffic of ``steer bench soak`` (steerlab/bench/soak.py): the clients' streaming chat requests (a mix of
unsteered, monitored and steered configs, some hung up early), the tally they keep, the flagged request that makes a
webhook outage felt, and the ``/metrics`` scrape the run samples."""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
from prometheus_client.parser import text_string_to_metric_families

if TYPE_CHECKING:
    from steerlab.bench.soak import SoakConfig

MODEL = "smollm2-135m-instruct"
INFER = "soak-inference-key"
PROMPTS = [
    "Tell me about San Francisco.", "What is your favourite food?", "Describe the Golden Gate Bridge at dawn.",
    "How do I learn to swim?", "Write a haiku about autumn.", "Plan a day trip around the bay.",
    "Explain photosynthesis simply.", "Why is the sky blue?", "Suggest a name for a bakery.",
    "What should I see on a visit to California?", "Give me three tips for sleeping better.",
    "Write a short story about a robot.",
]
OUTAGE_PROMPT, OUTAGE_WAIT_S = "Describe the Golden Gate Bridge at dawn.", 60.0
# Distinct configs, so rows are allocated and freed all the time: bare ids, explicit ops, several strengths. (Not
# golden-gate: it is the mandatory monitor, which an inference key may not override.)
STEERING = [None, None, "unsafe-code", "topics", "gender", "sae-l15/golden-gate-3467:add=4",
            "sae-l15/golden-gate-3467:add=8, gender", "sae-l15/health-5873:clamp=3, unsafe-code/python:monitor"]


@dataclass
class Tally:
    started: int = 0
    completed: int = 0
    disconnected: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # status → count (429/503: admission, not errors)
    errors: list[str] = field(default_factory=list)
    tokens: int = 0


def scrape(base: str) -> dict[str, float]:
    """``/metrics`` as {name or name{sink=…}: value}, counters summed over their other labels."""
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(httpx.get(base + "/metrics", timeout=10).text):
        for s in fam.samples:
            key = s.name + (f"{{sink={s.labels['sink']}}}" if "sink" in s.labels else "")
            out[key] = out.get(key, 0.0) + s.value
    return out


def chat_body(rng: random.Random, cfg: SoakConfig) -> dict:
    body = {"model": MODEL, "stream": True, "temperature": 0,
            "messages": [{"role": "user", "content": rng.choice(PROMPTS)}],
            "max_tokens": rng.randint(*cfg.max_tokens), "stream_options": {"include_usage": True}}
    steering = rng.choice(STEERING)
    if steering:
        body["steering"] = steering
    return body


async def stream_request(client: httpx.AsyncClient, body: dict, hang_up_after: int | None, t: Tally) -> None:
    """One streaming request; ``hang_up_after``: chunks read before closing (0 = right after the headers)."""
    t.started += 1
    done = False
    try:
        async with client.stream("POST", "/v1/chat/completions", json=body) as r:
            if r.status_code in (429, 503):
                await r.aread()
                t.rejected[str(r.status_code)] = t.rejected.get(str(r.status_code), 0) + 1
                if "retry-after" not in r.headers:
                    t.errors.append(f"{r.status_code} without Retry-After")
                return
            if r.status_code != 200:
                t.errors.append(f"HTTP {r.status_code}: {(await r.aread())[:200]!r}")
                return
            chunks = 0
            if hang_up_after == 0:
                t.disconnected += 1
                return
            async for line in r.aiter_lines():
                if line == "data: [DONE]":
                    done = True
                elif line.startswith("data: {"):
                    msg = json.loads(line[6:])
                    if "error" in msg:
                        t.errors.append(f"in-band error: {msg['error'].get('message', '')[:200]}")
                    if msg.get("usage"):
                        t.tokens += msg["usage"]["completion_tokens"]
                    chunks += 1
                    if hang_up_after is not None and chunks >= hang_up_after:
                        t.disconnected += 1
                        return
    except httpx.HTTPError as e:
        t.errors.append(f"{type(e).__name__}: {e}"[:200])
        return
    if done:
        t.completed += 1
    else:
        t.errors.append("stream ended without [DONE]")


async def client_loop(base: str, cfg: SoakConfig, i: int, deadline: float, t: Tally) -> None:
    rng = random.Random(cfg.seed * 1000 + i)
    async with httpx.AsyncClient(base_url=base, timeout=300, headers={"Authorization": f"Bearer {INFER}"}) as c:
        while time.monotonic() < deadline:
            hang = rng.randint(0, 4) if rng.random() < cfg.disconnect else None
            await stream_request(c, chat_body(rng, cfg), hang, t)


async def outage_felt(base: str) -> float | None:
    """Right after the webhook goes down: one request the mandatory monitor flags, then wait for the webhook sink to
    count a failed delivery, so the outage is felt on any machine (seconds taken; None after ``OUTAGE_WAIT_S``)."""
    t, key = time.monotonic(), "steerserve_alert_sink_failures_total{sink=webhook}"
    before = (await asyncio.to_thread(scrape, base)).get(key, 0)
    body = {"model": MODEL, "max_tokens": 4, "messages": [{"role": "user", "content": OUTAGE_PROMPT}]}
    async with httpx.AsyncClient(base_url=base, timeout=OUTAGE_WAIT_S, headers={"Authorization": f"Bearer {INFER}"}) as c:
        while time.monotonic() - t < OUTAGE_WAIT_S:
            try:
                if (await c.post("/v1/chat/completions", json=body)).status_code == 200:
                    break
            except httpx.HTTPError:  # a timeout on a saturated machine: try again, as for 429/503
                pass
            await asyncio.sleep(0.5)  # 429/503 while the clients fill the queue
    while time.monotonic() - t < OUTAGE_WAIT_S:
        if (await asyncio.to_thread(scrape, base)).get(key, 0) > before:
            return time.monotonic() - t
        await asyncio.sleep(0.2)
    return None
