"""Shared fixtures: small packs built on the fly (random weights only ever in tests, never shipped)."""

from __future__ import annotations

import contextlib
import os
import time

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from steering.pack import ModelInfo, save_pack  # noqa: E402


def wait_for(cond, what: str, timeout: float = 1.0, interval: float = 0.01) -> None:
    """Poll ``cond`` until it holds; fail with a description instead of sleeping a fixed time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for: {what}")


@contextlib.contextmanager
def live_server(app):
    """``app`` served by uvicorn in a thread on a free loopback port; yields ``(base_url, server)``."""
    import socket
    import threading

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    wait_for(lambda: server.started, "server start", 10)
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        t.join(10)


TINY = ModelInfo(name="tiny-llama", architecture="LlamaForCausalLM", d_model=16, num_layers=4)


def make_pack(
    root,
    pack_id: str,
    *,
    layer: int = 1,
    n_features: int = 3,
    kind: str = "sae-relu",
    model: ModelInfo = TINY,
    seed: int = 0,
    pinv_encoder: bool = False,
    threshold: float | None = 0.5,
    max_activation: float = 2.0,
    layers: list[int] | None = None,
    condition: dict | None = None,
    apply_to: str | None = None,
    read_at: str | None = None,
    no_edit: dict[int, list[int]] | None = None,
    readout: str | None = None,
):
    """A pack of ``n_features`` seeded random features. ``pinv_encoder`` makes ``W_dec @ W_enc = I`` so clamping
    then re-encoding gives the target exactly (a property test needs it). ``layers``: a format-v2 pack with a site
    (and its own random tensors) at each of those layers. ``apply_to``/``read_at``: every feature's key. ``no_edit``:
    ``{site index: feature indices}`` whose decoder rows are zero there (the feature does not act at that site).
    ``readout``: the v2 key (``"sum"`` makes every feature monitor-only, as the format requires)."""
    g = torch.Generator().manual_seed(seed)
    d = model.d_model

    def site_tensors() -> dict[str, torch.Tensor]:
        W_dec = torch.randn(n_features, d, generator=g)  # [F, d]
        t = {"W_dec": W_dec}
        if kind != "direction":
            W_enc = torch.linalg.pinv(W_dec) if pinv_encoder else torch.randn(d, n_features, generator=g) / d**0.5
            t |= {"W_enc": W_enc, "b_enc": 0.1 * torch.randn(n_features, generator=g)}
        if kind == "sae-jumprelu":
            t["threshold"] = 0.2 * torch.rand(n_features, generator=g)
        return t

    if layers is None:
        tensors, where = site_tensors(), {"site": {"layer": layer, "point": "resid_post"}}
    else:
        tensors = {f"{k}.{i}": v for i in range(len(layers)) for k, v in site_tensors().items()}
        for i, rows in (no_edit or {}).items():
            tensors[f"W_dec.{i}"][rows] = 0
        where = {"sites": [{"layer": x} for x in layers]}
        if condition is not None:
            where["condition"] = condition
        if readout is not None:
            where["readout"] = readout
    manifest = {
        "id": pack_id,
        "version": "1",
        "title": f"test pack {pack_id}",
        "model": model.model_dump(),
        **where,
        "encoder": {"kind": kind},
        "features": [
            {
                "name": f"f{i}",
                "index": i,
                "label": f"feature {i}",
                **({"default_op": "monitor"} if readout == "sum" else {"default_op": "clamp", "default_value": "2x"}),
                "max_activation": max_activation,
                "threshold": threshold,
                **({"apply_to": apply_to} if apply_to else {}),
                **({"read_at": read_at} if read_at else {}),
            }
            for i in range(n_features)
        ],
    }
    return save_pack(root / pack_id, manifest, tensors, card="# test pack\n")


@pytest.fixture
def pack_factory(tmp_path):
    def factory(pack_id: str, **kw):
        return make_pack(tmp_path, pack_id, **kw)

    return factory
