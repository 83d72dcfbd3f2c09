"""Write packs out in other tools' formats (the inverse of :mod:`steering.pack.importers`).

``export_gguf_control_vector``: one feature of a pack at a chosen strength, as the control vector llama.cpp
(``--control-vector``) and repeng read: architecture ``controlvector``, ``controlvector.model_hint``,
``controlvector.layer_count`` and one F32 tensor ``direction.N = value * W_dec[feature]`` per site at layer ``N``
(the output of decoder layer ``N``, the same numbering as the pack's sites, see
:mod:`steering.pack.importers.gguf_cv`). Adding that vector at every site is exactly what ``add=value`` does in
this runtime; a clamp or an SAE's input-dependent activation has no control-vector form, so only ``add`` exports.

``export_saelens``: an SAE pack (``sae-relu``/``sae-topk`` as SAELens ``standard``, ``sae-jumprelu`` as ``jumprelu``)
as a SAELens directory (``cfg.json`` + ``sae_weights.safetensors``) that ``sae_lens.SAE.load_from_disk`` reads and
that encodes exactly as the runtime does: ``b_dec`` = 0 and ``apply_b_dec_to_input`` false (the pack's biases are
already folded into ``b_enc``), ``normalize_activations: "none"``. A ``sae-topk`` pack runs as ReLU of the
pre-activation here, so ``standard`` is what it computes. One directory per site (``site-<layer>``) for a
multi-site pack. ``probe``/``direction`` packs have no SAELens form (their activation is linear) and are refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from steering.errors import PackError
from steering.pack.io import FeaturePack

CV_ARCH = "controlvector"


def resolve_value(pack: FeaturePack, feature: str, value: str | float | None) -> float:
    """An absolute strength for ``feature``: a number, a multiple like ``"2x"`` of its ``max_activation``, or (None)
    its default value."""
    f = pack.manifest.feature(feature)
    if f is None:
        raise PackError(f"pack '{pack.id}' has no feature '{feature}'", reason="export")
    v = f.default_value if value is None else value
    if v is None:
        raise PackError(f"feature '{feature}' has no default value; give one (e.g. 1.5x)", reason="export")
    if isinstance(v, str) and v.endswith("x"):
        return float(v[:-1]) * f.max_activation
    return float(v)


def export_gguf_control_vector(pack: FeaturePack, out: str | Path, *, feature: str | None = None,
                               value: str | float | None = None, model_hint: str | None = None) -> Path:
    """Write ``value * W_dec[feature]`` at each of the pack's sites as a GGUF control vector at ``out``."""
    import gguf  # local: only this exporter needs it

    feats = pack.manifest.features
    if feature is None and len(feats) > 1:
        raise PackError(f"pack '{pack.id}' has {len(feats)} features; name one (--feature)", reason="export")
    name = feature or feats[0].name
    strength = resolve_value(pack, name, value)
    index = pack.manifest.feature(name).index
    layers = pack.layers
    if 0 in layers:
        raise PackError("llama.cpp control vectors cannot steer layer 0 (it refuses direction.0)", reason="export")
    hint = model_hint or pack.manifest.model.architecture.removesuffix("ForCausalLM").lower()
    out = Path(out)
    writer = gguf.GGUFWriter(out, CV_ARCH)
    writer.add_string(f"{CV_ARCH}.model_hint", hint)
    writer.add_uint32(f"{CV_ARCH}.layer_count", len(layers))
    for site in pack.sites:
        writer.add_tensor(f"direction.{site.layer}", (strength * site.W_dec[index]).numpy().astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


SAELENS_ARCH = {"sae-relu": "standard", "sae-topk": "standard", "sae-jumprelu": "jumprelu"}


def export_saelens(pack: FeaturePack, out: str | Path) -> list[Path]:
    """Write the pack's SAE (its feature rows, in pack order) as SAELens directories; returns them."""
    kind = pack.manifest.encoder.kind
    arch = SAELENS_ARCH.get(kind)
    if arch is None:
        raise PackError(f"a '{kind}' pack has no SAELens form (SAELens SAEs have ReLU-family activations)",
                        reason="export")
    out = Path(out)
    rows = torch.tensor([f.index for f in pack.manifest.features])
    dirs = []
    for site in pack.sites:
        d = out if len(pack.sites) == 1 else out / f"site-{site.layer}"
        d.mkdir(parents=True, exist_ok=True)
        W_enc = site.W_enc[:, rows]
        t = {"W_enc": W_enc, "W_dec": site.W_dec[rows], "b_dec": torch.zeros(W_enc.shape[0]),
             "b_enc": site.b_enc[rows] if site.b_enc is not None else torch.zeros(len(rows))}
        if arch == "jumprelu":
            t["threshold"] = site.threshold[rows]
        save_file({k: v.float().contiguous() for k, v in t.items()}, d / "sae_weights.safetensors")
        cfg = {"architecture": arch, "d_in": W_enc.shape[0], "d_sae": len(rows), "dtype": "float32", "device": "cpu",
               "apply_b_dec_to_input": False, "normalize_activations": "none", "reshape_activations": "none",
               "metadata": {"model_name": pack.manifest.model.name, "hook_name": f"blocks.{site.layer}.hook_resid_post",
                            "exported_from": f"steerserve pack {pack.id} v{pack.manifest.version}",
                            "feature_names": [f.name for f in pack.manifest.features]}}
        (d / "cfg.json").write_text(json.dumps(cfg, indent=2) + "\n")
        dirs.append(d)
    return dirs
