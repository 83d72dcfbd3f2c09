from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from server.app import build_app
from server.engines.fake import FakeEngine
from server.settings import ServerSettings


@pytest.fixture
def packs(pack_factory):
    return [pack_factory("topic", kind="direction", n_features=1, max_activation=2.0),
            pack_factory("safety", n_features=2, threshold=0.5, seed=1)]


@pytest.fixture
def client(packs):
    app = build_app(ServerSettings(), FakeEngine(packs))
    with TestClient(app) as c:
        yield c


def chat(client, headers=None, **body):
    payload = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8,
               "temperature": 0, **body}
    return client.post("/v1/chat/completions", json=payload, headers=headers or {})
