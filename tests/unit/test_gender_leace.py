"""The gender pack's LEACE eraser on synthetic data, and its round trip through a pack and the runtime's suppress."""

from __future__ import annotations

import torch

from steering.pack import load_pack, save_pack
from steering.runtime import SteeringRuntime
from steerlab.build.gender_pack import Eraser, leace_fit
from steerlab.eval.bias import agreement, normalised_skew
from tests.conftest import TINY

D = TINY.d_model


def synthetic(n: int = 4000, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Correlated Gaussian activations ``[n, D]`` with a concept ``z [n]`` written along a random direction, plus a
    second, independent 'stated gender' signal along another direction ``g [D]``."""
    gen = torch.Generator().manual_seed(seed)
    A = torch.randn(D, D, generator=gen) / D**0.5
    z = torch.randn(n, generator=gen)
    X = torch.randn(n, D, generator=gen) @ A + z[:, None] * torch.randn(D, generator=gen) + 3.0
    g = torch.randn(D, generator=gen)
    return X, z, g


def linear_probe_r2(X: torch.Tensor, z: torch.Tensor) -> float:
    """R² of the best least-squares linear predictor of ``z`` from ``X`` (with intercept), in float64. Directions
    with less than 1e-6 of the top singular value are dropped: an eraser collapses one direction to float32
    rounding noise, which is no information a probe could use in practice."""
    Xd = torch.cat([X.double() - X.double().mean(0), torch.ones(len(X), 1, dtype=torch.float64)], 1)
    coef = torch.linalg.lstsq(Xd, z.double()[:, None], rcond=1e-6, driver="gelsd").solution
    resid = z.double() - (Xd @ coef)[:, 0]
    return float(1 - resid.var() / z.double().var())


def covariance_with(X: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return (X.double() - X.double().mean(0)).T @ (z.double() - z.double().mean()) / len(X)


def test_leace_erases_the_linear_concept():
    X, z, _ = synthetic()
    assert linear_probe_r2(X, z) > 0.5
    e = leace_fit(X, z, shrinkage=0.0)
    Xe = e.erase(X)
    assert covariance_with(Xe, z).abs().max() < 1e-4 * covariance_with(X, z).abs().max()
    assert linear_probe_r2(Xe, z) < 1e-3  # no linear probe recovers z
    assert torch.allclose(Xe.mean(0), X.mean(0), atol=1e-4)  # centred: the mean is untouched
    assert abs(float(e.w @ e.u) - 1) < 1e-5


def test_leace_is_exact_for_any_shrinkage_and_smaller_than_orthogonal_projection():
    X, z, _ = synthetic(seed=1)
    for lam in (0.0, 0.1, 0.5):
        assert linear_probe_r2(leace_fit(X, z, shrinkage=lam).erase(X), z) < 1e-3
    e = leace_fit(X, z, shrinkage=0.0)
    ortho = Eraser(e.u, e.u, float(X.mean(0) @ e.u))  # w = u: plain orthogonal projection, also exact
    assert linear_probe_r2(ortho.erase(X), z) < 1e-3
    edit = lambda er: float((er.erase(X) - X).pow(2).sum(1).mean())  # noqa: E731
    assert edit(e) < edit(ortho)  # LEACE: the least-squares-smallest edit among exact erasers


def test_keep_direction_passes_through_untouched():
    X, z, g = synthetic(seed=2)
    e = leace_fit(X, z, shrinkage=0.1, keep=g[:, None])
    assert abs(float(e.w @ g)) < 1e-4 * float(g.norm() * e.w.norm())
    assert torch.allclose(e.erase(X + g) - e.erase(X), g.expand_as(X), atol=1e-3)  # stated difference preserved
    assert linear_probe_r2(e.erase(X), z) < 1e-3  # and the concept is still erased


def test_pack_round_trip_suppress_equals_the_formula(tmp_path):
    X, z, g = synthetic(seed=3)
    e = leace_fit(X, z, shrinkage=0.1, keep=g[:, None])
    e = Eraser(e.u, e.w, e.t + 0.7)  # a calibrated (non-mean) target must survive the round trip too
    manifest = {"id": "gender", "version": "1", "title": "t", "model": TINY.model_dump(),
                "site": {"layer": 1, "point": "resid_post"}, "encoder": {"kind": "probe"},
                "features": [{"name": "gender", "index": 0, "label": "gender", "default_op": "suppress",
                              "max_activation": 1.0, "threshold": None}]}
    save_pack(tmp_path / "gender", manifest, e.tensors(), card="# t\n")
    pack = load_pack(tmp_path / "gender")
    rt = SteeringRuntime([pack], D)
    row = rt.rows.acquire({("gender", "gender"): ("suppress", 0.0)})
    h = X[:64]
    rt.batch.row = torch.full((64,), row)
    rt.batch.rows_present = {row}
    out = rt.apply_site(1, h)
    assert torch.allclose(out, e.erase(h), atol=1e-4)
    assert rt.sites[1].activation(out)[:, 0].abs().max() < 1e-3  # suppressed: the activation reads 0 after
    rt.batch.row = torch.zeros(64, dtype=torch.long)
    rt.batch.rows_present = {0}
    assert torch.equal(rt.apply_site(1, h), h)  # unsteered rows untouched


def test_skew_and_agreement_metrics():
    lp = torch.log(torch.tensor([[0.3, 0.1], [0.1, 0.1], [0.02, 0.08]]))
    assert torch.allclose(normalised_skew(lp), torch.tensor([0.5, 0.0, 0.6]), atol=1e-6)
    assert agreement(lp, [" he", " she", " she"]).tolist() == [1.0, 0.5, 1.0]  # a tie is half agreeing
    assert agreement(lp, [" she", " he", " he"]).tolist() == [0.0, 0.5, 0.0]
    assert agreement(lp + torch.tensor([0.0, 5e-5]), [" he"] * 3)[1] == 0.5  # float noise on a tie stays a tie
