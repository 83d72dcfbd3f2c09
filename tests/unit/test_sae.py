"""The TopK SAE trainer learns a known sparse dictionary, and its SAELens output (input scaling folded into the
weights) reads back and imports as a pack exactly. Loading it in SAELens itself: tests/interop/test_saelens.py."""

from __future__ import annotations

import torch

from steering.pack.importers import import_sae
from steering.runtime import SteeringRuntime
from steerlab.build.sae import TopKSAE, fvu_of, load_saelens_topk, save_saelens, scaling_factor, train_sae

D, ATOMS, K = 32, 48, 3


def sparse_data(n: int, seed: int = 0) -> torch.Tensor:
    """Known ground truth: each sample is K random atoms of a fixed dictionary with positive weights (synthetic
    data for a property test; no pack is ever built from it)."""
    atoms = torch.nn.functional.normalize(torch.randn(ATOMS, D, generator=torch.Generator().manual_seed(99)), dim=1)
    g = torch.Generator().manual_seed(seed)  # the dictionary is fixed; the samples vary with the seed
    idx = torch.stack([torch.randperm(ATOMS, generator=g)[:K] for _ in range(n)])  # [n, K]
    coef = torch.rand(n, K, generator=g) * 2 + 0.5
    return (coef[:, :, None] * atoms[idx]).sum(1) * 10 + 3.0  # [n, D]; offset tests b_dec


def test_topk_sae_learns_a_sparse_dictionary_and_round_trips_through_saelens(tmp_path):
    torch.manual_seed(0)
    raw = sparse_data(20_000)
    s = scaling_factor(raw)
    acts = raw * s
    sae = TopKSAE(D, width=64, k=K)
    stats, _ = train_sae(sae, acts, steps=600, batch=512, lr=3e-3, dead_after_tokens=50_000, progress=False)
    fvu, l0, _ = fvu_of(sae, sparse_data(2000, seed=1) * s)
    assert stats.fvu[-1] < stats.fvu[0] / 4
    assert fvu < 0.15 and l0 <= K

    save_saelens(sae, tmp_path / "sae", s=s, layer=2, model_name="tiny")
    again, cfg = load_saelens_topk(tmp_path / "sae")  # s folded in: reads raw activations
    assert cfg["normalize_activations"] == "none" and "scaling_factor" not in cfg
    x = sparse_data(64, seed=3)
    with torch.no_grad():
        torch.testing.assert_close(again.encode(x), sae.encode(x * s), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(again.decode(again.encode(x)), sae.decode(sae.encode(x * s)) / s)
    model = {"name": "tiny", "architecture": "LlamaForCausalLM", "d_model": D, "num_layers": 4}
    pack = import_sae("saelens", tmp_path / "sae", tmp_path / "pack", features=[0, 5, 9], pack_id="tiny-sae",
                      model=model, layer=2)
    rt = SteeringRuntime([pack], D)
    x = sparse_data(64, seed=2)  # the model's own scale: the pack folded s in
    with torch.no_grad():
        want = torch.relu(sae.pre(x * s))[:, [0, 5, 9]]
    torch.testing.assert_close(rt.sites[2].activation(x), want, rtol=1e-4, atol=1e-4)
