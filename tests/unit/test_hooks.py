"""Hooks attach to any HF decoder-only model by layer index, steer exactly there, and always come off."""

from __future__ import annotations

import pytest
import torch
from transformers import (
    AutoModelForCausalLM,
    GemmaConfig,
    GPT2Config,
    GPTNeoXConfig,
    LlamaConfig,
    Qwen2Config,
)

from steering.hooks import attach, decoder_layers, hook_count
from steering.pack import ModelInfo
from steering.runtime import SteeringRuntime

D, L = 16, 4
CONFIGS = {
    "llama": LlamaConfig(hidden_size=D, intermediate_size=32, num_hidden_layers=L, num_attention_heads=2,
                         num_key_value_heads=1, vocab_size=64),
    "qwen2": Qwen2Config(hidden_size=D, intermediate_size=32, num_hidden_layers=L, num_attention_heads=2,
                         num_key_value_heads=1, vocab_size=64),
    "gemma": GemmaConfig(hidden_size=D, intermediate_size=32, num_hidden_layers=L, num_attention_heads=2,
                         num_key_value_heads=1, head_dim=8, vocab_size=64),
    "gpt2": GPT2Config(n_embd=D, n_layer=L, n_head=2, vocab_size=64, n_positions=64),
    "gpt_neox": GPTNeoXConfig(hidden_size=D, intermediate_size=32, num_hidden_layers=L, num_attention_heads=2,
                              vocab_size=64),
}


def tiny(name):
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(CONFIGS[name]).eval()


def resid_post(model, ids, layer):
    out = model(ids, output_hidden_states=True)
    return out.hidden_states[layer + 1], out.logits  # hidden_states[0] is the embedding


@pytest.mark.parametrize("arch", sorted(CONFIGS))
def test_hook_steers_the_chosen_layer_only(arch, pack_factory):
    model = tiny(arch)
    info = ModelInfo(name="tiny", architecture=arch, d_model=D, num_layers=L)
    pack = pack_factory("p", kind="direction", n_features=1, layer=2, model=info)
    rt = SteeringRuntime([pack], D)
    r = rt.rows.acquire({("p", "f0"): ("add", 3.0)})
    ids = torch.tensor([[1, 5, 7, 9], [1, 2, 3, 4]])
    with torch.no_grad():
        base_h, base_logits = resid_post(model, ids, 2)
        with attach(model, rt):
            rt.batch.row = torch.tensor([[0, r, r, r], [0, 0, 0, 0]]).flatten()
            rt.batch.rows_present = {0, r}
            h, logits = resid_post(model, ids, 2)
        assert hook_count(model) == 0
    delta = h - base_h  # [B, T, d]
    torch.testing.assert_close(delta[0, 1:], 3.0 * pack.W_dec[0].expand(3, D), atol=1e-4, rtol=1e-4)
    assert torch.equal(h[0, 0], base_h[0, 0])  # the sink position is row 0
    assert torch.equal(logits[1], base_logits[1])  # the unsteered sequence is bit-identical
    assert not torch.allclose(logits[0, 1:], base_logits[0, 1:])


def test_several_packs_at_several_layers(pack_factory):
    model = tiny("llama")
    info = ModelInfo(name="tiny", architecture="llama", d_model=D, num_layers=L)
    p1 = pack_factory("a", kind="direction", n_features=1, layer=0, model=info)
    p2 = pack_factory("b", kind="direction", n_features=1, layer=2, model=info, seed=1)
    rt = SteeringRuntime([p1, p2], D)
    r = rt.rows.acquire({("a", "f0"): ("clamp", 2.0), ("b", "f0"): ("clamp", -1.0)})
    ids = torch.tensor([[1, 5, 7, 9]])
    with torch.no_grad(), attach(model, rt):
        rt.batch.row, rt.batch.rows_present = torch.tensor([0, r, r, r]), {0, r}
        out = model(ids, output_hidden_states=True).hidden_states
    for pack, layer, target in ((p1, 0, 2.0), (p2, 2, -1.0)):  # the last entry is post-norm
        w = pack.W_dec[0]
        torch.testing.assert_close(out[layer + 1][0, 1:] @ w / w.dot(w), torch.full((3,), target), atol=1e-4, rtol=1e-4)


def test_handles_removed_when_generation_raises(pack_factory):
    model = tiny("llama")
    rt = SteeringRuntime([pack_factory("p", layer=1)], D)
    with pytest.raises(RuntimeError, match="boom"), attach(model, rt):
        assert hook_count(model) == 1
        raise RuntimeError("boom")
    assert hook_count(model) == 0


def test_decoder_layers_found_for_each_architecture():
    for arch in CONFIGS:
        assert len(decoder_layers(tiny(arch))) == L


class _CharTokenizer:
    """Enough of a tokenizer for ``layer_activations``: one id per character."""

    pad_token_id = 0

    def __call__(self, text, truncation=True, max_length=256):
        return {"input_ids": [1 + ord(c) % 60 for c in text][:max_length]}


def test_batched_layer_activations_equal_one_text_at_a_time():
    from steerlab.build.activations import layer_activations

    model, tok = tiny("llama"), _CharTokenizer()
    texts = ["hello world", "a", "steering runtime", "xyz", "the same again"]
    one = list(layer_activations(model, tok, texts, 2, batch_size=1))
    many = list(layer_activations(model, tok, texts, 2, batch_size=3))
    assert [a.shape for a in one] == [(len(t) - 1, D) for t in texts]
    for a, b in zip(one, many, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_multi_site_pack_steers_at_all_its_sites_in_one_forward(pack_factory, tmp_path):
    """A format-v2 pack acts exactly like its sites as separate v1 packs, in the same forward; its monitor reads
    at sites[0] only and its receipt counts the positions edited at every site."""
    from steering.monitor import AppliedCounter, RequestMonitor
    from steering.pack import save_pack

    model = tiny("llama")
    info = ModelInfo(name="tiny", architecture="llama", d_model=D, num_layers=L)
    multi = pack_factory("m", kind="sae-relu", n_features=2, layers=[3, 1], model=info)
    singles = []
    for i, site in enumerate(multi.sites):  # the same tensors, one v1 pack per site
        m = multi.manifest.model_dump(exclude={"format", "format_version", "sha256", "sites", "site"})
        m |= {"id": f"s{i}", "site": {"layer": site.layer}}
        t = {"W_dec": site.W_dec, "W_enc": site.W_enc, "b_enc": site.b_enc}
        singles.append(save_pack(tmp_path / f"s{i}", m, t))
    ids = torch.tensor([[1, 5, 7, 9, 11]])
    rows = [0, 1, 1, 1, 1]

    def forward(packs, config):
        rt = SteeringRuntime(packs, D)
        r = rt.rows.acquire(config)
        with torch.no_grad(), attach(model, rt):
            rt.batch.row, rt.batch.rows_present = torch.tensor(rows) * r, {0, r}
            rt.batch.slot, rt.batch.pos = torch.zeros(5, dtype=torch.long), torch.arange(5)
            logits = model(ids).logits
        return rt, logits

    rt_m, got = forward([multi], {("m", "f0"): ("clamp", 1.5), ("m", "f1"): ("monitor", 0.0)})
    _, want = forward(singles, {("s0", "f0"): ("clamp", 1.5), ("s1", "f0"): ("clamp", 1.5)})
    base = model(ids).logits.detach()
    assert torch.equal(got, want) and not torch.allclose(got, base)
    assert [r.layer for r in rt_m.batch.readouts] == [3]  # the monitor reads at sites[0] only
    assert rt_m.columns[("m", "f0")].at == ((3, rt_m.columns[("m", "f0")].col), (1, 0))
    applied = AppliedCounter({("m", "f0"): ("clamp", 1.5)}, rt_m.columns)
    applied.update(rt_m.batch.edits, 0)
    assert applied.per_site[("m", "f0")] == {1: 4, 3: 4} and applied.as_dict() == {"m/f0": 4}
    applied.update([e for e in rt_m.batch.edits if e.layer == 3], 0)  # a site that missed a pass holds it down
    assert applied.as_dict() == {"m/f0": 4}
    mon = RequestMonitor.of({("m", "f1"): ("monitor", 0.0)}, rt_m.columns)
    mon.update(rt_m.batch.readouts, 0, "prompt")
    assert mon.readings[("m", "f1")].max > 0


def test_multi_layer_gguf_control_vector_steers_at_every_layer(tmp_path):
    """A llama.cpp / repeng control vector with directions at layers 1 and 3 imports as one pack; `add=1` adds
    each layer's vector to that layer's output in one forward (llama.cpp's --control-vector at strength 1)."""
    import gguf
    import numpy as np

    from steering.pack.importers import import_sae

    model = tiny("llama")
    g = torch.Generator().manual_seed(4)
    dirs = {n: torch.randn(D, generator=g).numpy() for n in (1, 3)}
    w = gguf.GGUFWriter(tmp_path / "cv.gguf", "controlvector")
    w.add_string("controlvector.model_hint", "llama")
    w.add_uint32("controlvector.layer_count", 2)
    for n, v in dirs.items():
        w.add_tensor(f"direction.{n}", v.astype(np.float32))
    w.write_header_to_file(), w.write_kv_data_to_file(), w.write_tensors_to_file(), w.close()
    info = ModelInfo(name="tiny", architecture="llama", d_model=D, num_layers=L)
    pack = import_sae("gguf", tmp_path / "cv.gguf", tmp_path / "cv", features=None, pack_id="cv", model=info,
                      layer=None, names=["direction"])
    assert pack.layers == [1, 3]
    singles = [import_sae("gguf", tmp_path / "cv.gguf", tmp_path / f"cv{n}", features=None, pack_id=f"cv{n}",
                          model=info, layer=n) for n in (1, 3)]  # what 2 one-layer imports gave before
    ids = torch.tensor([[1, 5, 7, 9]])

    def forward(packs):
        rt = SteeringRuntime(packs, D)
        r = rt.rows.acquire({(p.id, p.manifest.features[0].name): ("add", 1.0) for p in packs})
        with torch.no_grad(), attach(model, rt):
            rt.batch.row, rt.batch.rows_present = torch.tensor([0, r, r, r]), {0, r}
            return model(ids, output_hidden_states=True).hidden_states

    steered, base = forward([pack]), model(ids, output_hidden_states=True).hidden_states
    torch.testing.assert_close(steered[2][0, 1:] - base[2][0, 1:], torch.from_numpy(dirs[1]).expand(3, D))
    assert torch.equal(steered[2][0, 0], base[2][0, 0])  # the sink is never steered
    two = forward(singles)
    assert all(torch.equal(a, b) for a, b in zip(steered, two, strict=True))  # layer 3 steered too, in one forward
    assert not torch.allclose(steered[4], forward([singles[0]])[4])


def test_summed_readout_reads_one_probe_over_several_layers(pack_factory):
    """A probe pack with ``readout: "sum"`` monitors ``Σ_sites h_l·W_enc.<i> + b_enc.<i>`` per token, read once at
    its highest site (sites listed in any order), computed in the forward by carrying the sum from site to site; the
    stream is untouched, and its features can only be monitored."""
    from steering.errors import InvalidSteeringSpec
    from steering.monitor import RequestMonitor
    from steering.spec import parse_spec, resolve

    model = tiny("llama")
    info = ModelInfo(name="tiny", architecture="llama", d_model=D, num_layers=L)
    pack = pack_factory("sum", kind="probe", n_features=2, layers=[1, 0, 2], model=info, readout="sum")
    rt = SteeringRuntime([pack], D)
    config = {("sum", "f0"): ("monitor", 0.0), ("sum", "f1"): ("monitor", 0.0)}
    r = rt.rows.acquire(config)
    ids = torch.tensor([[1, 5, 7, 9, 11]])
    with torch.no_grad():
        out = model(ids, output_hidden_states=True)
        with attach(model, rt), rt.forward(torch.full((5,), r), torch.zeros(5, dtype=torch.long), torch.arange(5),
                                           keep_tokens=True) as state:
            steered = model(ids).logits
    assert torch.equal(steered, out.logits)  # a monitor only reads
    assert [x.layer for x in state.readouts] == [2]  # one reading per feature, at the highest site
    mon = RequestMonitor.of(config, rt.columns, trace=True)
    mon.update(state.readouts, 0, "prompt")
    for f in (0, 1):
        want = sum(out.hidden_states[s.layer + 1][0] @ s.W_enc[:, f] + s.b_enc[f] for s in pack.sites)  # [T]
        got = mon.tokens()[f"sum/f{f}"]
        assert sorted(got) == [1, 2, 3, 4]  # the sink is never read
        torch.testing.assert_close(torch.tensor([got[t] for t in range(1, 5)]), want[1:], rtol=1e-5, atol=1e-5)
    with pytest.raises(InvalidSteeringSpec, match="can only be monitored"):
        resolve([parse_spec("sum/f0:add=1")], rt)


@pytest.mark.parametrize("change, why", [
    ({"kind": "sae-relu"}, "encoder kind 'probe'"),
    ({"layers": [2]}, "two or more sites"),
    ({"default_op": "add"}, "can only be monitored"),
])
def test_summed_readout_needs_a_multi_site_probe_pack_of_monitors(pack_factory, change, why):
    from steering.pack.manifest import Manifest

    pack = pack_factory("good", kind="probe", n_features=2, layers=[1, 2], readout="sum")
    m = pack.manifest.model_dump()
    if "kind" in change:
        m["encoder"]["kind"] = change["kind"]
    if "layers" in change:
        m["sites"] = [{"layer": x} for x in change["layers"]]
    if "default_op" in change:
        m["features"][1]["default_op"] = change["default_op"]
    with pytest.raises(ValueError, match=why):  # what the loader checks (load_pack validates the manifest)
        Manifest.model_validate(m)
