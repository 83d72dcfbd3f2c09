"""Synthetic packs of realistic size for the timing benchmarks (seeded random weights: cost only, never quality)."""

from __future__ import annotations

from pathlib import Path

import torch

from steering.pack import save_pack

PACK_LAYERS = (10, 15, 20)
FEATURES = 32


def synthetic_packs(root: Path, d: int, n_layers: int, model_name: str, layers: tuple[int, ...] = PACK_LAYERS):
    """Three SAE-style packs of :data:`FEATURES` unit-norm random features (seeded), one per layer: timing only."""
    packs = []
    for i, layer in enumerate(layers):
        g = torch.Generator().manual_seed(i)
        W_dec = torch.nn.functional.normalize(torch.randn(FEATURES, d, generator=g), dim=1)
        tensors = {"W_dec": W_dec, "W_enc": W_dec.T.contiguous(), "b_enc": torch.zeros(FEATURES)}
        manifest = {"id": f"bench-{i}", "version": "0", "title": "timing only (synthetic)",
                    "model": {"name": model_name, "architecture": "LlamaForCausalLM", "d_model": d,
                              "num_layers": n_layers},
                    "site": {"layer": layer}, "encoder": {"kind": "sae-relu"},
                    "features": [{"name": f"f{j}", "index": j, "label": "synthetic", "max_activation": 4.0,
                                  "threshold": 2.0} for j in range(FEATURES)]}
        packs.append(save_pack(root / f"bench-{i}", manifest, tensors))
    return packs


def config(k: int) -> dict:
    """Three packs on every request: a clamp, an add and a monitor per pack; ``k`` varies the values."""
    cfg = {}
    for i in range(len(PACK_LAYERS)):
        cfg[(f"bench-{i}", "f0")] = ("clamp", 1.0 + 0.01 * k)
        cfg[(f"bench-{i}", "f1")] = ("add", 0.5 + 0.01 * k)
        cfg[(f"bench-{i}", "f2")] = ("monitor", 0.0)
    return cfg
