"""Interop with the real SAELens (the ``sae-lens`` test extra), both ways.

In: tiny SAEs made and saved by ``sae_lens`` itself (Standard, JumpReLU, TopK with and without
``rescale_acts_by_decoder_norm``, BatchTopK via ``save_model`` and ``save_inference_model``, and the checkpoint
folders of a real ``SAETrainer.fit()``) are imported whole (``features=None``, what ``--features all`` passes) and
run through :class:`~steering.runtime.SteeringRuntime`. Reference: what ``sae_lens`` computes on the same raw
input -- ``SAE.encode(x)`` for activations and ``SAE.decode(onehot_i) - SAE.decode(0)`` for latent ``i``'s decoder
row in the model's scale. TopK: the runtime reads ReLU of the pre-activation (no top-k), so activations are compared
on the latents SAELens keeps. Tolerance: max |difference| ≤ 1e-5 × max |reference| (float32 on both sides; measured
≤ 1e-6 here).

Out: the SAELens directory written by ``save_saelens`` (what ``steer sae train`` saves) loads with
``sae_lens.SAE.load_from_disk`` and reproduces steerserve's own encode/decode, relative error < 1e-4 (the
acceptance bound; measured ≤ 1e-6).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest
import torch

sae_lens = pytest.importorskip("sae_lens", reason="sae-lens is not installed: `pip install -e '.[test]'` adds it")

from sae_lens import (  # noqa: E402
    SAE,
    BatchTopKTrainingSAE,
    BatchTopKTrainingSAEConfig,
    JumpReLUSAE,
    JumpReLUSAEConfig,
    LoggingConfig,
    MatryoshkaBatchTopKTrainingSAE,
    MatryoshkaBatchTopKTrainingSAEConfig,
    StandardSAE,
    StandardSAEConfig,
    StandardTrainingSAE,
    StandardTrainingSAEConfig,
    TopKSAE,
    TopKSAEConfig,
    TopKTrainingSAE,
    TopKTrainingSAEConfig,
    TrainingSAE,
)
from sae_lens.config import SAETrainerConfig  # noqa: E402
from sae_lens.training.sae_trainer import SAETrainer  # noqa: E402

from steering.pack import ModelInfo  # noqa: E402
from steering.pack.importers import import_sae  # noqa: E402
from steering.runtime import SteeringRuntime  # noqa: E402
from steerlab.build.sae import TopKSAE as SteerTopKSAE  # noqa: E402
from steerlab.build.sae import load_saelens_topk, save_saelens  # noqa: E402

D, F, K, N, LAYER = 96, 64, 8, 48, 2
MODEL = ModelInfo(name="tiny", architecture="LlamaForCausalLM", d_model=D, num_layers=4)
TOL = 1e-5
SCALED = {"normalize_activations": "expected_average_only_in"}


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@torch.no_grad()
def randomize(sae, seed: int, threshold: tuple[float, float] | None = None):
    """Random weights of unequal decoder-row norms and nonzero biases, so every fold is exercised."""
    g = _gen(seed)
    sae.W_enc.copy_(torch.randn(D, F, generator=g) * 0.3)
    sae.W_dec.copy_(torch.randn(F, D, generator=g) * 0.3 * (torch.rand(F, 1, generator=g) + 0.5))
    sae.b_enc.copy_(torch.randn(F, generator=g) * 0.5)
    sae.b_dec.copy_(torch.randn(D, generator=g) * 0.5)
    if threshold is not None:
        lo, hi = threshold
        sae.threshold.copy_(torch.rand(F, generator=g) * (hi - lo) + lo)
    return sae


def inputs(seed: int = 100, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(N, D, generator=_gen(seed)) * scale


def import_all(src, tmp_path, name="imported", **kw):
    return import_sae("saelens", src, tmp_path / "packs" / name, features=None, pack_id=name, model=MODEL,
                      layer=LAYER, **kw)


def runtime_act(pack, x: torch.Tensor) -> torch.Tensor:
    return SteeringRuntime([pack], D).sites[LAYER].activation(x)  # [N, F], pack feature j = latent j


@torch.no_grad()
def saelens_rows(sae) -> torch.Tensor:
    """Each latent's contribution per unit of activation, in the model's scale, as SAELens decodes it."""
    return sae.decode(torch.eye(F)) - sae.decode(torch.zeros(1, F))  # [F, D]


def rel_err(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return ((actual - expected).abs().max() / expected.abs().max()).item()


@torch.no_grad()
def assert_pack_matches(pack, sae, x, *, topk: bool = False) -> None:
    want = sae.encode(x)
    got = runtime_act(pack, x)
    kept = want > 0
    assert kept.any() and (~kept).any()  # both sides of the activation are exercised
    if topk:  # no top-k at runtime: equal on every latent SAELens keeps
        got = got * kept
    assert rel_err(got, want) <= TOL
    assert rel_err(pack.W_dec, saelens_rows(sae)) <= TOL


# ---------------------------------------------------------------- import: inference SAEs


@pytest.mark.parametrize("apply_b_dec", [True, False])
def test_standard(tmp_path, apply_b_dec):
    sae = randomize(StandardSAE(StandardSAEConfig(d_in=D, d_sae=F, apply_b_dec_to_input=apply_b_dec)), 1)
    sae.save_model(tmp_path / "sae")
    pack = import_all(tmp_path / "sae", tmp_path)
    assert pack.manifest.encoder.kind == "sae-relu" and len(pack.manifest.features) == F
    assert_pack_matches(pack, SAE.load_from_disk(tmp_path / "sae"), inputs())


def test_jumprelu_with_negative_thresholds(tmp_path):
    sae = randomize(JumpReLUSAE(JumpReLUSAEConfig(d_in=D, d_sae=F)), 2, threshold=(-0.5, 1.0))
    sae.save_model(tmp_path / "sae")
    pack = import_all(tmp_path / "sae", tmp_path)
    assert pack.manifest.encoder.kind == "sae-jumprelu"
    assert_pack_matches(pack, SAE.load_from_disk(tmp_path / "sae"), inputs())


@pytest.mark.parametrize("rescale", [False, True])
def test_topk(tmp_path, rescale):
    sae = randomize(TopKSAE(TopKSAEConfig(d_in=D, d_sae=F, k=K, rescale_acts_by_decoder_norm=rescale)), 3)
    sae.save_model(tmp_path / "sae")
    assert json.loads((tmp_path / "sae" / "cfg.json").read_text())["rescale_acts_by_decoder_norm"] is rescale
    pack = import_all(tmp_path / "sae", tmp_path)
    assert pack.manifest.encoder.kind == "sae-topk" and pack.manifest.encoder.k == K
    assert_pack_matches(pack, SAE.load_from_disk(tmp_path / "sae"), inputs(), topk=True)


def test_topk_training_sae_default_rescale(tmp_path):
    """SAELens's default TopK training config rescales by the decoder norm; save_model keeps it unfolded,
    save_inference_model folds it. Both import to the same pack."""
    sae = randomize(TopKTrainingSAE(TopKTrainingSAEConfig(d_in=D, d_sae=F, k=K)), 4)
    assert sae.cfg.rescale_acts_by_decoder_norm
    sae.save_model(tmp_path / "train")
    sae.save_inference_model(tmp_path / "infer")
    a, b = import_all(tmp_path / "train", tmp_path, "a"), import_all(tmp_path / "infer", tmp_path, "b")
    assert_pack_matches(a, SAE.load_from_disk(tmp_path / "train"), inputs(), topk=True)
    assert rel_err(a.W_enc, b.W_enc) <= TOL and rel_err(a.b_enc, b.b_enc) <= TOL and rel_err(a.W_dec, b.W_dec) <= TOL


# ---------------------------------------------------------------- import: BatchTopK


BATCHTOPK = {
    "batchtopk": lambda **kw: BatchTopKTrainingSAE(BatchTopKTrainingSAEConfig(d_in=D, d_sae=F, k=K, **kw)),
    "matryoshka_batchtopk": lambda **kw: MatryoshkaBatchTopKTrainingSAE(
        MatryoshkaBatchTopKTrainingSAEConfig(d_in=D, d_sae=F, k=K, matryoshka_widths=[16, F], **kw)),
}


@pytest.mark.parametrize("rescale", [True, False])
@pytest.mark.parametrize("arch", sorted(BATCHTOPK))
def test_batchtopk_save_model_and_save_inference_model(tmp_path, arch, rescale):
    """BatchTopK's top-k runs over the whole batch, so it has no per-token form; SAELens's own inference form is a
    JumpReLU with the learned ``topk_threshold`` (save_inference_model). The ``save_model`` layout (architecture
    ``batchtopk`` / ``matryoshka_batchtopk``) imports as that same JumpReLU."""
    sae = randomize(BATCHTOPK[arch](rescale_acts_by_decoder_norm=rescale), 5)
    sae.topk_threshold.fill_(0.4)
    sae.save_model(tmp_path / "train")
    sae.save_inference_model(tmp_path / "infer")
    assert json.loads((tmp_path / "train" / "cfg.json").read_text())["architecture"] == arch
    reference = SAE.load_from_disk(tmp_path / "infer")  # JumpReLU
    for name in ("train", "infer"):
        pack = import_all(tmp_path / name, tmp_path, name)
        assert pack.manifest.encoder.kind == "sae-jumprelu"
        assert_pack_matches(pack, reference, inputs(scale=2.0))


# ---------------------------------------------------------------- import: trainer checkpoint folders


def _trainer_run(tmp_path, sae, *, steps=6, batch=32):
    """A real SAETrainer.fit() on random activations (mean norm far from sqrt(d), so the scaling factor matters),
    checkpointing half-way (unfolded weights + activation_scaler.json) and at the end (folded)."""
    g = _gen(7)

    def provider():
        while True:
            yield torch.randn(batch, D, generator=g) * 3.0 + 1.0

    cfg = SAETrainerConfig(total_training_samples=steps * batch, train_batch_size_samples=batch, lr_end=3e-4,
                           n_checkpoints=1, checkpoint_path=str(tmp_path / "ckpt"), save_final_checkpoint=True,
                           n_batches_for_norm_estimate=2, logger=LoggingConfig(log_to_wandb=False))
    SAETrainer(cfg, sae, provider()).fit()
    mid, final = sorted((tmp_path / "ckpt").iterdir(), key=lambda p: p.name.startswith("final"))
    return mid, final


def saelens_inference(ckpt, out, s: float | None = None):
    """SAELens's own path from a checkpoint to an inference SAE: load the training SAE, fold the scaling factor as
    ``fit()`` does at the end, ``save_inference_model``, ``SAE.load_from_disk``."""
    sae = TrainingSAE.load_from_disk(ckpt)
    if s is not None:
        sae.fold_activation_norm_scaling_factor(s)
    sae.save_inference_model(out)
    return SAE.load_from_disk(out)


TRAINING = {
    "standard": lambda: StandardTrainingSAE(StandardTrainingSAEConfig(d_in=D, d_sae=F, **SCALED)),
    "topk": lambda: TopKTrainingSAE(TopKTrainingSAEConfig(d_in=D, d_sae=F, k=K, **SCALED)),  # rescale on: the default
    "batchtopk": lambda: BatchTopKTrainingSAE(BatchTopKTrainingSAEConfig(d_in=D, d_sae=F, k=K, **SCALED)),
}


@pytest.mark.parametrize("arch", sorted(TRAINING))
def test_trainer_checkpoints(tmp_path, arch, caplog):
    torch.manual_seed(0)  # SAELens initialises from the global generator
    mid, final = _trainer_run(tmp_path, TRAINING[arch]())
    for ckpt in (mid, final):
        assert (ckpt / "trainer_state.pt").is_file()
    s = json.loads((mid / "activation_scaler.json").read_text())["scaling_factor"]
    assert abs(s - 1) > 0.5
    x = inputs(scale=3.0) + 1.0

    # half-way: unfolded weights, the scaling factor in activation_scaler.json
    with caplog.at_level(logging.INFO, logger="steering.pack.importers.saelens"):
        pack = import_all(mid, tmp_path, "mid")
    assert "skipped trainer_state.pt" in caplog.text
    assert_pack_matches(pack, saelens_inference(mid, tmp_path / "mid-ref", s), x, topk=arch == "topk")

    # the end: fit() folded the scaling factor before saving
    assert json.loads((final / "cfg.json").read_text())["normalize_activations"] == "none"
    pack = import_all(final, tmp_path, "final")
    assert_pack_matches(pack, saelens_inference(final, tmp_path / "final-ref"), x, topk=arch == "topk")


def test_other_pickles_in_a_checkpoint_are_still_refused(tmp_path):
    sae = randomize(StandardSAE(StandardSAEConfig(d_in=D, d_sae=F)), 8)
    sae.save_model(tmp_path / "sae")
    (tmp_path / "sae" / "trainer_state.pt").write_bytes(b"\x80\x04never read")
    (tmp_path / "sae" / "extra.pkl").write_bytes(b"\x80\x04never read")
    with pytest.raises(Exception, match=r"extra\.pkl"):
        import_all(tmp_path / "sae", tmp_path)


def test_cli_features_all_names_skipped_files(tmp_path):
    sae = randomize(TopKTrainingSAE(TopKTrainingSAEConfig(d_in=D, d_sae=F, k=K)), 9)
    sae.save_model(tmp_path / "ckpt")
    (tmp_path / "ckpt" / "trainer_state.pt").write_bytes(b"\x80\x04never read")  # opened = a failed unpickle
    dst = tmp_path / "packs" / "all"
    r = subprocess.run([sys.executable, "-m", "server.cli", "pack", "import", "saelens", str(tmp_path / "ckpt"),
                        str(dst), "--features", "all", "--id", "all", "--layer", str(LAYER), "--model-name", "tiny",
                        "--d-model", str(D), "--num-layers", "4"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "skipped trainer_state.pt" in r.stdout + r.stderr
    assert f"with {F} features" in r.stdout


# ---------------------------------------------------------------- export: steer sae train's SAELens directory


def _steer_sae(seed: int = 11) -> SteerTopKSAE:
    sae = SteerTopKSAE(D, F, K, seed)
    g = _gen(seed)
    with torch.no_grad():
        sae.W_enc.add_(torch.randn(D, F, generator=g) * 0.1)  # untied, with biases
        sae.b_enc.copy_(torch.randn(F, generator=g) * 0.2)
        sae.b_dec.copy_(torch.randn(D, generator=g))
    return sae


@torch.no_grad()
def test_save_saelens_loads_correctly_in_saelens(tmp_path):
    sae, s = _steer_sae(), 0.37  # trained on x * s
    save_saelens(sae, tmp_path / "sae", s=s, layer=LAYER, model_name="tiny")
    cfg = json.loads((tmp_path / "sae" / "cfg.json").read_text())
    assert cfg["normalize_activations"] == "none" and "scaling_factor" not in cfg

    loaded = SAE.load_from_disk(tmp_path / "sae")
    assert isinstance(loaded, TopKSAE) and loaded.cfg.k == K
    x = inputs(scale=4.0)  # raw activations, the model's scale
    z = sae.encode(x * s)
    assert rel_err(loaded.encode(x), z) < 1e-4
    assert rel_err(loaded.decode(z), sae.decode(z) / s) < 1e-4
    assert rel_err(loaded(x), sae.decode(z) / s) < 1e-4

    again, _ = load_saelens_topk(tmp_path / "sae")  # steerserve's own reader: raw inputs, same numbers
    assert rel_err(again.encode(x), z) < 1e-4
    pack = import_all(tmp_path / "sae", tmp_path)  # and the runtime, through an import of every latent
    assert_pack_matches(pack, loaded, x, topk=True)


@torch.no_grad()
def test_pre_fold_directories_still_read_right(tmp_path):
    """Directories written before the fold (raw weights, ``expected_average_only_in`` + ``scaling_factor``):
    steerserve's readers fold at load; SAELens ignores the key (that was the bug)."""
    sae, s = _steer_sae(12), 0.37
    (tmp_path / "old").mkdir()
    from safetensors.torch import save_file

    save_file({n: getattr(sae, n).detach().contiguous() for n in ("W_enc", "W_dec", "b_enc", "b_dec")},
              tmp_path / "old" / "sae_weights.safetensors")
    cfg = {"architecture": "topk", "d_in": D, "d_sae": F, "k": K, "activation_fn_kwargs": {"k": K},  # as written then
           "apply_b_dec_to_input": True, "normalize_activations": "expected_average_only_in", "scaling_factor": s,
           "hook_name": f"blocks.{LAYER}.hook_resid_post", "hook_layer": LAYER, "model_name": "tiny",
           "dtype": "float32", "device": "cpu"}
    (tmp_path / "old" / "cfg.json").write_text(json.dumps(cfg))
    x = inputs(scale=4.0)
    z = sae.encode(x * s)
    again, _ = load_saelens_topk(tmp_path / "old")
    assert rel_err(again.encode(x), z) < 1e-4 and rel_err(again.decode(z), sae.decode(z) / s) < 1e-4
    save_saelens(sae, tmp_path / "new", s=s, layer=LAYER, model_name="tiny")
    old, new = import_all(tmp_path / "old", tmp_path, "old"), import_all(tmp_path / "new", tmp_path, "new")
    assert rel_err(runtime_act(old, x), runtime_act(new, x)) < 1e-5 and rel_err(old.W_dec, new.W_dec) < 1e-5
    assert rel_err(SAE.load_from_disk(tmp_path / "old").encode(x), z) > 0.1  # what SAELens made of the old form


# ---------------------------------------------------------------- out: steer pack export --to saelens


@pytest.mark.parametrize("arch", ["standard", "jumprelu"])
def test_pack_export_to_saelens_round_trips(tmp_path, arch):
    """SAELens SAE → pack → `steer pack export --to saelens` → SAELens: the same encode and decoder rows as the
    pack's runtime (a subset of latents, in pack order)."""
    from steering.pack.exporters import export_saelens

    if arch == "standard":
        sae = randomize(StandardSAE(StandardSAEConfig(d_in=D, d_sae=F, apply_b_dec_to_input=True)), 3)
    else:
        sae = randomize(JumpReLUSAE(JumpReLUSAEConfig(d_in=D, d_sae=F)), 4, threshold=(-0.5, 1.0))
    sae.save_model(tmp_path / "sae")
    pack = import_sae("saelens", tmp_path / "sae", tmp_path / "packs" / "sub", features=[5, 1, 9], pack_id="sub",
                      model=MODEL, layer=LAYER)
    (out,) = export_saelens(pack, tmp_path / "out")
    back = SAE.load_from_disk(out)
    x = inputs(7)
    with torch.no_grad():
        want = runtime_act(pack, x)
        assert rel_err(back.encode(x), want) < 1e-4 and (want > 0).any()
        assert rel_err(back.decode(torch.eye(3)) - back.decode(torch.zeros(1, 3)), pack.W_dec) < 1e-4


def test_multi_site_pack_exports_one_saelens_directory_per_site(pack_factory, tmp_path):
    from steering.pack.exporters import export_saelens

    pack = pack_factory("m", kind="sae-relu", layers=[2, 1])
    dirs = export_saelens(pack, tmp_path / "out")
    assert [d.name for d in dirs] == ["site-2", "site-1"]
    for d, site in zip(dirs, pack.sites, strict=True):
        x = torch.randn(8, site.W_dec.shape[1], generator=_gen(5))
        want = torch.relu(x @ site.W_enc + site.b_enc)
        assert rel_err(SAE.load_from_disk(d).encode(x).detach(), want) < 1e-4
