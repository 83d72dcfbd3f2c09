"""Catalogue J: every hostile pack file is refused with a message that names the reason."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file

from steering.errors import PackError, PackModelMismatch
from steering.pack import ModelInfo, load_pack
from steering.pack.io import sha256_file


@pytest.fixture
def good(pack_factory, tmp_path):
    pack_factory("good")
    return tmp_path / "good"


def rewrite_manifest(path, **changes):
    m = json.loads((path / "pack.json").read_text())
    m.update(changes)
    (path / "pack.json").write_text(json.dumps(m))


def refit_sha(path):
    rewrite_manifest(path, sha256=sha256_file(path / "pack.safetensors"))


def refused(path, reason, match=None, **kw):
    with pytest.raises(PackError) as e:
        load_pack(path, **kw)
    assert e.value.reason == reason, e.value.message
    if match:
        assert match in e.value.message
    assert str(path.parent) not in e.value.message  # no paths in messages
    return e.value


def test_good_pack_loads(good):
    assert load_pack(good).id == "good"


@pytest.mark.parametrize("name", ["weights.pt", "sae.pkl", "model.bin", "x.pth", "y.ckpt"])
def test_pickle_files_refused(good, name):
    (good / name).write_bytes(b"\x80\x04K\x01.")
    refused(good, "pickle", match="pickle")


def test_truncated_safetensors(good):
    data = (good / "pack.safetensors").read_bytes()
    (good / "pack.safetensors").write_bytes(data[:-7])
    refit_sha(good)
    refused(good, "truncated")


def test_shorter_than_header_length(good):
    (good / "pack.safetensors").write_bytes(b"\x01\x02")
    refit_sha(good)
    refused(good, "truncated")


def test_oversized_header(good):
    (good / "pack.safetensors").write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    refit_sha(good)
    refused(good, "oversized_header")


def test_header_not_json(good):
    (good / "pack.safetensors").write_bytes(struct.pack("<Q", 4) + b"\xff\xfe{[")
    refit_sha(good)
    refused(good, "corrupt_header")


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_tensors(good, bad):
    W = torch.randn(3, 16)
    W[1, 2] = bad
    save_file({"W_dec": W, "W_enc": torch.randn(16, 3), "b_enc": torch.zeros(3)}, good / "pack.safetensors")
    refit_sha(good)
    refused(good, "non_finite", match="NaN or Inf")


def test_integer_dtype_refused(good):
    save_file({"W_dec": torch.ones(3, 16, dtype=torch.int32)}, good / "pack.safetensors")
    refit_sha(good)
    refused(good, "dtype")


def test_shape_against_manifest(good):
    save_file({"W_dec": torch.randn(3, 15), "W_enc": torch.randn(15, 3), "b_enc": torch.zeros(3)},
              good / "pack.safetensors")
    refit_sha(good)
    refused(good, "shape", match="expected [F, 16]")


def test_encoder_shape_mismatch(good):
    save_file({"W_dec": torch.randn(3, 16), "W_enc": torch.randn(16, 4), "b_enc": torch.zeros(3)},
              good / "pack.safetensors")
    refit_sha(good)
    refused(good, "shape", match="W_enc")


def test_feature_index_out_of_range(good):
    m = json.loads((good / "pack.json").read_text())
    m["features"][0]["index"] = 99
    (good / "pack.json").write_text(json.dumps(m))
    refused(good, "shape", match="index 99")


def test_unexpected_tensor_name(good):
    save_file({"W_dec": torch.randn(3, 16), "evil": torch.zeros(1)}, good / "pack.safetensors")
    refit_sha(good)
    refused(good, "tensor_name")


def test_sha256_mismatch(good):
    rewrite_manifest(good, sha256="0" * 64)
    refused(good, "sha256", match="sha256")


def test_unknown_format_version(good):
    rewrite_manifest(good, format_version=3)
    refused(good, "format_version", match="format_version")


def test_extra_manifest_keys(good):
    rewrite_manifest(good, surprise=True)
    refused(good, "extra_key", match="surprise")


def test_manifest_not_json(good):
    (good / "pack.json").write_text("{not json")
    refused(good, "manifest")


def test_symlink_out_of_root(good, tmp_path):
    outside = tmp_path.parent / f"outside-{os.getpid()}"
    outside.mkdir(exist_ok=True)
    shutil.copy(good / "pack.safetensors", outside / "pack.safetensors")
    (good / "pack.safetensors").unlink()
    (good / "pack.safetensors").symlink_to(outside / "pack.safetensors")
    refused(good, "outside_root", root=tmp_path)


def test_pack_directory_symlinked_out_of_root(good, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "linked").symlink_to(good)
    refused(root / "linked", "outside_root", root=root)


def test_size_cap(good):
    refused(good, "size_cap", max_bytes=64)


def test_model_mismatch(good):
    other = ModelInfo(name="other", architecture="LlamaForCausalLM", d_model=32, num_layers=4)
    with pytest.raises(PackModelMismatch):
        load_pack(good, model=other)


def _break_sha(path):
    rewrite_manifest(path, sha256="0" * 64)


def _add_pickle(path):
    (path / "weights.pt").write_bytes(b"\x80\x04K\x01.")


def _truncate(path):
    data = (path / "pack.safetensors").read_bytes()
    (path / "pack.safetensors").write_bytes(data[:-7])
    refit_sha(path)


def _nan(path):
    save_file({"W_dec": torch.full((3, 16), float("nan"))}, path / "pack.safetensors")
    refit_sha(path)


@pytest.mark.parametrize(("breaker", "reason"), [(_break_sha, "sha256"), (_add_pickle, "pickle"),
                                                  (_truncate, "truncated"), (_nan, "non_finite")])
def test_cli_verify_exits_nonzero_naming_the_reason(good, breaker, reason):
    breaker(good)
    r = subprocess.run([sys.executable, "-m", "server.cli", "pack", "verify", str(good)], capture_output=True,
                       text=True)
    assert r.returncode == 1
    assert f"[{reason}]" in r.stdout


def test_corrupt_pack_at_start_up_is_skipped_or_fatal_by_config(pack_factory, tmp_path, caplog):
    from steering.pack import load_packs
    from tests.conftest import TINY

    pack_factory("fine")
    pack_factory("broken")
    rewrite_manifest(tmp_path / "broken", sha256="0" * 64)
    packs = load_packs(tmp_path, TINY, strict=False)
    assert [p.id for p in packs] == ["fine"]
    assert "skipping pack 'broken'" in caplog.text and "sha256" in caplog.text
    with pytest.raises(PackError, match="sha256"):
        load_packs(tmp_path, TINY, strict=True)


def test_rebuilding_a_pack_keeps_the_hand_written_notes_of_its_card(pack_factory):
    """A build rewrites the card's measured part; what a person wrote after the notes marker survives."""
    from steering.pack import load_pack, save_pack, write_pack_card
    from steering.pack.io import CARD_FILE, NOTES_MARKER

    pack = pack_factory("p", kind="direction", n_features=1)
    card = pack.path / CARD_FILE
    card.write_text(f"# built v1\nAUROC 0.5\n\n{NOTES_MARKER}\n## What else was tried\nlayer 9: worse\n")
    write_pack_card(pack.path, "# built v2\nAUROC 0.6\n")
    assert card.read_text() == f"# built v2\nAUROC 0.6\n\n{NOTES_MARKER}\n## What else was tried\nlayer 9: worse\n"
    manifest = pack.manifest.model_dump(exclude={"format", "format_version", "sha256"}, exclude_none=True)
    save_pack(pack.path, manifest, {"W_dec": pack.W_dec}, card="# built v3\n")
    assert card.read_text().startswith("# built v3\n\n" + NOTES_MARKER) and card.read_text().endswith("worse\n")
    assert load_pack(pack.path).manifest.id == "p"
    card.write_text("# plain\n")  # a card without notes is simply replaced
    write_pack_card(pack.path, "# new\n")
    assert card.read_text() == "# new\n"


# ---------------------------------------------------------------- format v2 (several sites)


@pytest.fixture
def multi(pack_factory):
    return pack_factory("m", kind="sae-jumprelu", layers=[3, 1, 2]).path


def test_v2_pack_loads_with_tensors_per_site(multi):
    p = load_pack(multi)
    assert p.manifest.format_version == 2 and p.layers == [3, 1, 2] and p.layer == 3  # sites[0] is the read site
    assert all(s.W_enc is not None and s.threshold is not None for s in p.sites)
    assert not torch.equal(p.sites[0].W_dec, p.sites[1].W_dec)


def test_v2_missing_site_tensor(multi):
    t = load_file(multi / "pack.safetensors")
    del t["W_dec.2"]
    save_file(t, multi / "pack.safetensors")
    refit_sha(multi)
    refused(multi, "shape", match="W_dec.2 is required")


@pytest.mark.parametrize("stray", ["W_dec.3", "W_dec", "W_dec.01"])
def test_v2_stray_tensor(multi, stray):
    t = load_file(multi / "pack.safetensors")
    t[stray] = t["W_dec.0"].clone()
    save_file(t, multi / "pack.safetensors")
    refit_sha(multi)
    refused(multi, "tensor_name")


@pytest.mark.parametrize("change, match", [
    ({"sites": [{"layer": 1}, {"layer": 1}, {"layer": 2}]}, "distinct layers"),
    ({"sites": []}, "1 to 256 sites"),
    ({"sites": [{"layer": 3}, {"layer": 1}, {"layer": 40}]}, "outside the model"),
    ({"site": {"layer": 1}}, "format_version 2 has a 'sites' list"),
    ({"format_version": 1}, "format_version 1 has one 'site'"),
])
def test_v2_manifest_checks(multi, change, match):
    rewrite_manifest(multi, **change)
    refused(multi, "manifest", match=match)
