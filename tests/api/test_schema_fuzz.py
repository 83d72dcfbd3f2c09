"""Catalogue A: schemathesis fuzzes every operation of /openapi.json (fake engine) and finds no 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

from server.app import build_app
from server.engines.fake import FakeEngine
from server.settings import ServerSettings
from tests.conftest import make_pack


def _app():
    import tempfile
    from pathlib import Path

    root = Path(tempfile.mkdtemp(prefix="fuzz-packs-"))
    packs = [make_pack(root, "topic", kind="direction", n_features=1), make_pack(root, "safety", seed=1)]
    return build_app(ServerSettings(packs=str(root)), FakeEngine(packs))


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
