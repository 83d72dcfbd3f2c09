"""Importers reproduce the source library's own numbers.

For each format a small seeded random SAE (random weights only ever in tests) is written in the foreign layout,
the source library's encode/decode is re-implemented here in float64 exactly as that library does it, latents
[3, 7, 11] are imported, and the pack -- run through the runtime's formula -- must give the same pre-activations,
activations and per-latent contributions (``act_i * W_dec[i]``, in the model's scale) within 1e-5 relative.
"""

from __future__ import annotations

import json

import gguf
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from steering.errors import PackError
from steering.pack import ModelInfo, load_pack
from steering.pack.importers import direction_pack_tensors, formats, import_sae, register

MODEL = ModelInfo(name="test-model", architecture="LlamaForCausalLM", d_model=16, num_layers=4)
D, F, K, N = 16, 32, 8, 64
SEL = [3, 7, 11]


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(g, *shape, scale=1.0) -> torch.Tensor:
    """float32-representable values held in float64, so the file and the reference hold the same numbers."""
    return (torch.randn(*shape, generator=g) * scale).double()


def _weights(g) -> dict[str, torch.Tensor]:
    return {
        "W_enc": _randn(g, D, F, scale=0.5),  # [d, F]
        "W_dec": _randn(g, F, D, scale=0.5),  # [F, d]
        "b_enc": _randn(g, F, scale=0.3),
        "b_dec": _randn(g, D, scale=0.5),
    }


def _topk_relu(pre: torch.Tensor, k: int) -> torch.Tensor:
    top = pre.topk(k, dim=-1)
    return torch.zeros_like(pre).scatter(-1, top.indices, top.values.relu())


def pack_forward(pack, h: torch.Tensor):
    """The runtime's formula (steering.runtime.SiteTable.activation) on the pack's float32 tensors."""
    pre = h.float() @ pack.W_enc + (pack.b_enc if pack.b_enc is not None else 0.0)  # [N, F']
    kind = pack.manifest.encoder.kind
    if kind in ("probe", "direction"):
        act = pre
    else:
        thr = pack.threshold if kind == "sae-jumprelu" else torch.zeros_like(pre[0])
        act = pre * (pre > thr)
    contrib = act[:, :, None] * pack.W_dec[None]  # [N, F', d]
    return pre.double(), act.double(), contrib.double()


def assert_close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    scale = expected.abs().max().item()
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5 * scale + 1e-12)


def assert_matches(pack, h, ref_pre, ref_act, ref_contrib, *, topk: bool = False) -> None:
    pre, act, contrib = pack_forward(pack, h)
    ref_pre, ref_act, ref_contrib = ref_pre[:, SEL], ref_act[:, SEL], ref_contrib[:, SEL]
    assert_close(pre, ref_pre)
    if topk:  # no top-k at runtime: equal wherever the source kept the latent
        kept = ref_act > 0
        assert kept.any()
        act, contrib = act * kept, contrib * kept[:, :, None]
    assert (ref_act > 0).any() and (ref_act == 0).any()  # the test exercises both sides of the activation
    assert_close(act, ref_act)
    assert_close(contrib, ref_contrib)


def _import(fmt, src, tmp_path, **kw):
    kw.setdefault("features", SEL)
    return import_sae(fmt, src, tmp_path / "packs" / "imported", pack_id="imported", model=MODEL, layer=2, **kw)


# ---------------------------------------------------------------- SAELens


def write_saelens(path, w, cfg, extra_tensors=None):
    path.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.float().contiguous() for k, v in {**w, **(extra_tensors or {})}.items()}
    save_file(tensors, path / "sae_weights.safetensors")
    base = {"d_in": D, "d_sae": F, "dtype": "float32", "device": "cpu", "apply_b_dec_to_input": True}
    (path / "cfg.json").write_text(json.dumps({**base, **cfg}))


def saelens_reference(w, cfg, x, *, s=None, threshold=None, finetune=None):
    """sae_lens/saes/*: process_sae_in (scale, then - b_dec), encode, and the latent part of decode."""
    sae_in = x * s if s is not None else x
    if cfg.get("apply_b_dec_to_input", True):
        sae_in = sae_in - w["b_dec"]
    pre = sae_in @ w["W_enc"] + w["b_enc"]
    arch = cfg.get("architecture", "standard")
    if arch == "jumprelu":
        act = pre.relu() * (pre > threshold)
    elif arch == "topk" or cfg.get("activation_fn_str") == "topk":
        act = _topk_relu(pre, K)
    else:
        act = pre.relu()
    W_dec = w["W_dec"] if finetune is None else w["W_dec"] * finetune[:, None]
    contrib = act[:, :, None] * W_dec[None]  # decoder output is in the scaled space ...
    return pre, act, contrib / s if s is not None else contrib  # ... and maps back dividing by s


@pytest.mark.parametrize("apply_b_dec", [True, False])
def test_saelens_relu(tmp_path, apply_b_dec):
    g = _gen(1)
    w = _weights(g)
    cfg = {"architecture": "standard", "apply_b_dec_to_input": apply_b_dec, "normalize_activations": "none"}
    write_saelens(tmp_path / "sae", w, cfg)
    pack = _import("saelens", tmp_path / "sae", tmp_path, labels=["a", "b", "c"], max_activation=[2.0, 3.0, 4.0])
    h = _randn(g, N, D, scale=2.0)
    assert_matches(pack, h, *saelens_reference(w, cfg, h))

    m = load_pack(tmp_path / "packs" / "imported").manifest
    assert m.encoder.kind == "sae-relu" and m.site.layer == 2
    assert [(f.name, f.index, f.label, f.max_activation) for f in m.features] == [
        ("f3", 0, "a", 2.0),
        ("f7", 1, "b", 3.0),
        ("f11", 2, "c", 4.0),
    ]
    assert all(f.default_op == "monitor" for f in m.features)
    assert m.provenance.source == "imported from saelens" and m.provenance.command
    assert str(tmp_path) not in (tmp_path / "packs" / "imported" / "pack.json").read_text()


@pytest.mark.parametrize("key", ["threshold", "log_threshold"])
def test_saelens_jumprelu(tmp_path, key):
    g = _gen(2)
    w = _weights(g)
    thr = (torch.rand(F, generator=g) * 0.8 + 0.05).double()
    if key == "threshold":
        thr[SEL[0]] = -0.2  # negative threshold: SAELens's ReLU first makes it act like 0
    stored = {"threshold": thr} if key == "threshold" else {"log_threshold": thr.float().log().double()}
    cfg = {"architecture": "jumprelu", "normalize_activations": "none"}
    write_saelens(tmp_path / "sae", w, cfg, stored)
    pack = _import("saelens", tmp_path / "sae", tmp_path)
    h = _randn(g, N, D, scale=2.0)
    ref_thr = stored["threshold"] if key == "threshold" else stored["log_threshold"].float().exp().double()
    assert_matches(pack, h, *saelens_reference(w, cfg, h, threshold=ref_thr))
    assert pack.manifest.encoder.kind == "sae-jumprelu" and (pack.threshold >= 0).all()


@pytest.mark.parametrize(
    "cfg",
    [
        {"architecture": "topk", "k": K},
        {"architecture": "standard", "activation_fn_str": "topk", "activation_fn_kwargs": {"k": K}},  # SAELens < 6
    ],
)
def test_saelens_topk(tmp_path, cfg):
    g = _gen(3)
    w = _weights(g)
    write_saelens(tmp_path / "sae", w, cfg)
    pack = _import("saelens", tmp_path / "sae", tmp_path)
    h = _randn(g, N, D, scale=2.0)
    assert_matches(pack, h, *saelens_reference(w, cfg, h), topk=True)
    assert pack.manifest.encoder.kind == "sae-topk" and pack.manifest.encoder.k == K


@pytest.mark.parametrize("where", ["argument", "cfg", "activation_scaler.json"])
def test_saelens_expected_average_scaling_is_folded(tmp_path, where):
    g = _gen(4)
    w = _weights(g)
    s = 0.3125
    cfg = {"architecture": "standard", "normalize_activations": "expected_average_only_in"}
    write_saelens(tmp_path / "sae", w, {**cfg, **({"scaling_factor": s} if where == "cfg" else {})})
    if where == "activation_scaler.json":
        (tmp_path / "sae" / where).write_text(json.dumps({"scaling_factor": s}))
    pack = _import("saelens", tmp_path / "sae", tmp_path, scaling_factor=s if where == "argument" else None)
    h = _randn(g, N, D, scale=6.0)  # the model's scale; the SAE sees h * s
    assert_matches(pack, h, *saelens_reference(w, cfg, h, s=s))


def test_saelens_finetuning_scaling_factor_is_folded_into_decoder(tmp_path):
    g = _gen(5)
    w = _weights(g)
    sf = (torch.rand(F, generator=g) + 0.5).double()
    cfg = {"architecture": "standard", "finetuning_scaling_factor": True}
    write_saelens(tmp_path / "sae", w, cfg, {"scaling_factor": sf})
    pack = _import("saelens", tmp_path / "sae", tmp_path)
    h = _randn(g, N, D, scale=2.0)
    assert_matches(pack, h, *saelens_reference(w, cfg, h, finetune=sf))


def test_saelens_missing_scaling_factor_asks_for_it(tmp_path):
    write_saelens(tmp_path / "sae", _weights(_gen()), {"normalize_activations": "expected_average_only_in"})
    with pytest.raises(PackError, match="--scaling-factor"):
        _import("saelens", tmp_path / "sae", tmp_path)


@pytest.mark.parametrize("norm", ["layer_norm", "constant_norm_rescale"])
def test_saelens_per_token_normalisation_is_refused(tmp_path, norm):
    write_saelens(tmp_path / "sae", _weights(_gen()), {"normalize_activations": norm})
    with pytest.raises(PackError, match=f"'{norm}' is not supported.*not a linear map"):
        _import("saelens", tmp_path / "sae", tmp_path)
    assert not (tmp_path / "packs" / "imported").exists()


def test_saelens_refuses_pickle_checkpoints(tmp_path):
    (tmp_path / "sae").mkdir()
    (tmp_path / "sae" / "cfg.json").write_text("{}")
    (tmp_path / "sae" / "sae_weights.pt").write_bytes(b"\x80\x04not really")
    with pytest.raises(PackError, match="pickle"):
        _import("saelens", tmp_path / "sae", tmp_path)


# ---------------------------------------------------------------- Gemma Scope


def test_gemmascope_npz(tmp_path):
    g = _gen(6)
    w = _weights(g)
    thr = (torch.rand(F, generator=g) * 0.8 + 0.05).double()
    (tmp_path / "gs").mkdir()
    np.savez(tmp_path / "gs" / "params.npz", **{k: v.float().numpy() for k, v in {**w, "threshold": thr}.items()})
    pack = _import("gemmascope", tmp_path / "gs", tmp_path)
    h = _randn(g, N, D, scale=2.0)
    pre = h @ w["W_enc"] + w["b_enc"]  # Gemma Scope: no b_dec subtraction
    act = pre.relu() * (pre > thr.float().double())
    assert_matches(pack, h, pre, act, act[:, :, None] * w["W_dec"][None])
    assert pack.manifest.encoder.kind == "sae-jumprelu"


def test_gemmascope_refuses_object_arrays(tmp_path):
    np.savez(tmp_path / "params.npz", W_enc=np.array([{"a": 1}], dtype=object))
    with pytest.raises(PackError, match="plain npz"):
        _import("gemmascope", tmp_path / "params.npz", tmp_path)


# ---------------------------------------------------------------- sparsify


@pytest.mark.parametrize("orientation", ["latents_first", "d_in_first"])
def test_sparsify(tmp_path, orientation):
    g = _gen(7)
    w = _weights(g)
    enc_w, enc_b = w["W_enc"].T, w["b_enc"]  # nn.Linear layout [F, d]
    W_dec = w["W_dec"] if orientation == "latents_first" else w["W_dec"].T
    (tmp_path / "sp").mkdir()
    tensors = {"encoder.weight": enc_w, "encoder.bias": enc_b, "W_dec": W_dec, "b_dec": w["b_dec"]}
    save_file({k: v.float().contiguous() for k, v in tensors.items()}, tmp_path / "sp" / "sae.safetensors")
    cfg = {"expansion_factor": 32, "normalize_decoder": True, "num_latents": F, "k": K, "multi_topk": False}
    if orientation == "d_in_first":
        cfg["d_in"] = D
    (tmp_path / "sp" / "cfg.json").write_text(json.dumps(cfg))
    pack = _import("sparsify", tmp_path / "sp", tmp_path)

    h = _randn(g, N, D, scale=2.0)
    pre = (h - w["b_dec"]) @ enc_w.T + enc_b  # SparseCoder.encode: x - b_dec, then the linear encoder
    act = _topk_relu(pre.relu(), K)  # fused_encoder: ReLU, then top-k
    assert_matches(pack, h, pre, act, act[:, :, None] * w["W_dec"][None], topk=True)
    assert pack.manifest.encoder.kind == "sae-topk" and pack.manifest.encoder.k == K


# ---------------------------------------------------------------- GGUF control vectors


def write_control_vector(path, directions: dict[int, np.ndarray], arch="controlvector"):
    """As repeng's ControlVector.export_gguf writes it."""
    writer = gguf.GGUFWriter(path, arch)
    writer.add_string(f"{arch}.model_hint", "llama")
    writer.add_uint32(f"{arch}.layer_count", len(directions))
    for layer, v in directions.items():
        writer.add_tensor(f"direction.{layer}", v)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def test_gguf_control_vector_round_trip(tmp_path):
    g = _gen(8)
    dirs = {n: (torch.randn(D, generator=g) * (n + 1)).numpy() for n in (1, 2, 3)}
    write_control_vector(tmp_path / "cv.gguf", dirs)
    pack = _import("gguf", tmp_path / "cv.gguf", tmp_path, features=[0], labels=["happy"])
    assert pack.manifest.encoder.kind == "direction" and pack.layer == 2
    v = torch.from_numpy(dirs[2])
    assert torch.equal(pack.W_dec[0], v)  # the vector of layer 2, norm kept

    h = _randn(g, N, D, scale=3.0)
    _, coef, contrib = pack_forward(pack, h)
    v64 = v.double()
    assert_close(coef[:, 0], h @ v64 / v64.dot(v64))  # projection coefficient
    residual = h - contrib[:, 0]  # removing coef * v leaves nothing along v
    assert residual.matmul(v64).abs().max() < 1e-5 * h.matmul(v64).abs().max()


def test_gguf_missing_layer_and_wrong_arch(tmp_path):
    write_control_vector(tmp_path / "cv.gguf", {1: np.ones(D, np.float32), 3: np.ones(D, np.float32)})
    with pytest.raises(PackError, match=r"no direction for layer 2 \(layers present: 1, 3\)"):
        _import("gguf", tmp_path / "cv.gguf", tmp_path, features=[0])
    write_control_vector(tmp_path / "model.gguf", {2: np.ones(D, np.float32)}, arch="llama")
    with pytest.raises(PackError, match="not a control vector"):
        _import("gguf", tmp_path / "model.gguf", tmp_path, features=[0])


def test_direction_pack_tensors():
    dirs = torch.tensor([[3.0, 4.0], [0.0, 2.0]])
    t = direction_pack_tensors(dirs)
    assert torch.equal(t["W_dec"], dirs) and torch.equal(t["b_enc"], torch.zeros(2))
    assert torch.allclose(dirs @ t["W_enc"], torch.tensor([[1.0, 8 / 4], [8 / 25, 1.0]]))
    with pytest.raises(PackError, match="zero"):
        direction_pack_tensors(torch.tensor([[0.0, 0.0]]))


# ---------------------------------------------------------------- selection, registry


def test_feature_index_out_of_range(tmp_path):
    write_saelens(tmp_path / "sae", _weights(_gen()), {})
    with pytest.raises(PackError, match=r"feature index 32 is out of range: the saelens source has 32 latents"):
        _import("saelens", tmp_path / "sae", tmp_path, features=[3, 32])
    assert not (tmp_path / "packs" / "imported").exists()


def test_width_mismatch_is_refused(tmp_path):
    write_saelens(tmp_path / "sae", _weights(_gen()), {})
    with pytest.raises(PackError, match="d_model 8"):
        model = {**MODEL.model_dump(), "d_model": 8}
        import_sae("saelens", tmp_path / "sae", tmp_path / "p", features=SEL, pack_id="p", layer=1, model=model)


def test_registry(tmp_path):
    assert formats() == ["gemmascope", "gguf", "saelens", "sparsify"]
    with pytest.raises(ValueError, match="already registered"):
        register("saelens")(lambda src, *, layer: None)
    with pytest.raises(PackError, match="unknown import format 'nope'"):
        _import("nope", tmp_path, tmp_path)
    np.savez(tmp_path / "params.npz", W_enc=np.zeros((D, F), np.float32))
    with pytest.raises(PackError, match="'scaling_factor' does not apply to format 'gemmascope'"):
        _import("gemmascope", tmp_path / "params.npz", tmp_path, scaling_factor=2.0)


def test_gguf_whole_control_vector_is_one_multi_site_pack_and_exports_back_equal(tmp_path):
    from steering.pack.exporters import export_gguf_control_vector

    g = _gen(9)
    dirs = {n: (torch.randn(D, generator=g) * (n + 1)).numpy() for n in (1, 2, 3)}
    write_control_vector(tmp_path / "cv.gguf", dirs)
    pack = import_sae("gguf", tmp_path / "cv.gguf", tmp_path / "packs" / "cv", features=None, pack_id="cv",
                      model=MODEL, layer=None, names=["direction"])
    assert pack.manifest.format_version == 2 and pack.layers == [1, 2, 3]
    for site in pack.sites:
        assert torch.equal(site.W_dec[0], torch.from_numpy(dirs[site.layer]))
    out = export_gguf_control_vector(pack, tmp_path / "back.gguf", value=1.0)
    reader = gguf.GGUFReader(out)
    assert bytes(reader.get_field("general.architecture").parts[-1]).decode() == "controlvector"
    assert int(reader.get_field("controlvector.layer_count").parts[-1][0]) == 3
    back = {int(t.name.split(".")[1]): np.asarray(t.data) for t in reader.tensors}
    assert back.keys() == dirs.keys() and all(np.array_equal(back[n], dirs[n]) for n in dirs)
    half = export_gguf_control_vector(pack, tmp_path / "half.gguf", value="0.5x")  # max_activation 1.0
    assert np.array_equal(np.asarray(gguf.GGUFReader(half).tensors[0].data), 0.5 * dirs[1])


def test_layerless_import_needs_a_multi_layer_format(tmp_path):
    write_saelens(tmp_path / "sae", _weights(_gen()), {})
    with pytest.raises(PackError, match="format 'saelens' needs a layer"):
        import_sae("saelens", tmp_path / "sae", tmp_path / "p", features=SEL, pack_id="p", layer=None, model=MODEL)
