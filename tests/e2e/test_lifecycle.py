"""Catalogue H on the real server: SIGTERM drains in-flight requests; /health reports loading and draining."""

from __future__ import annotations

import json
import signal

import httpx
import pytest

from tests.e2e.conftest import start_server

pytestmark = pytest.mark.slow


def test_sigterm_drains_a_stream_in_flight(model_path):
    proc, base = start_server()
    body = {"model": "smollm2-135m-instruct", "max_tokens": 48, "temperature": 0, "stream": True,
            "messages": [{"role": "user", "content": "Tell me a story about a lighthouse."}]}
    frames = []
    with httpx.stream("POST", base + "/v1/chat/completions", json=body, timeout=60) as r:
        for line in r.iter_lines():
            if line.startswith("data: "):
                frames.append(line)
                if len(frames) == 2:
                    proc.send_signal(signal.SIGTERM)  # mid-stream
    assert frames[-1] == "data: [DONE]"
    last = json.loads(frames[-2][6:])
    assert "steering" in last
    # uvicorn finishes its graceful shutdown, then re-raises the signal it caught: exit by SIGTERM, not a crash
    assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
    out = proc.stdout.read()
    assert "Finished server process" in out and "Traceback" not in out
