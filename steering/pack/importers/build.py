"""Build a pack from a folded source SAE: keep the requested latents, write the manifest, card and tensors.

Pack feature ``j`` is source latent ``features[j]``: the rows of ``W_dec``, columns of ``W_enc`` and entries of
``b_enc`` / ``threshold`` are gathered in that order. Defaults: name ``f{index}``, label ``<format> latent
{index}``, ``max_activation`` 1.0 (uncalibrated), ``default_op`` monitor. Provenance never holds a path.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from pydantic import ValidationError

from steering.pack.importers.common import Folded, fail
from steering.pack.io import FeaturePack, save_pack
from steering.pack.manifest import ModelInfo


def _per_feature(value, n: int, what: str) -> list:
    if value is None or isinstance(value, (int, float, str)):
        return [value] * n
    if len(value) != n:
        raise fail(f"{what}: got {len(value)} entries for {n} features")
    return list(value)


def build_pack(
    folded: Folded | Mapping[int, Folded],
    dst: str | Path,
    *,
    fmt: str,
    features: Sequence[int] | None,
    pack_id: str,
    model: ModelInfo | dict,
    layer: int | None,
    labels: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    max_activation: float | Sequence[float] | None = None,
    title: str | None = None,
    description: str = "",
    command: str = "",
    version: str = "1",
) -> FeaturePack:
    """Keep latents ``features`` (source indices; None = all) and write the pack at ``dst``. Pack feature ``j`` is
    source latent ``features[j]``; it is named ``f{index}`` unless ``names`` are given. ``folded`` is one source
    (at ``layer``) or a mapping layer → source with the same latents at each layer (a multi-layer control vector):
    that writes a format-v2 pack with a site per layer, in layer order."""
    model = model if isinstance(model, ModelInfo) else ModelInfo.model_validate(model)
    by_layer = dict(sorted(folded.items())) if isinstance(folded, Mapping) else {layer: folded}
    if not by_layer:
        raise fail(f"the {fmt} source has no layers to import")
    shapes = {f.W_dec.shape for f in by_layer.values()}
    if len(shapes) > 1 or len({f.kind for f in by_layer.values()}) > 1:
        raise fail(f"the {fmt} source's layers differ in shape or kind; import them one layer at a time")
    F, d = shapes.pop()
    if d != model.d_model:
        raise fail(f"the {fmt} source has width {d}, but model {model.name} has d_model {model.d_model}")
    for lay in by_layer:
        if lay is None or not 0 <= lay < model.num_layers:
            raise fail(f"layer {lay} is outside model {model.name}'s {model.num_layers} layers")
    idx = list(range(F)) if features is None else [int(i) for i in features]
    if not idx:
        raise fail("no features selected")
    if len(set(idx)) != len(idx):
        raise fail("feature indices must be unique")
    bad = [i for i in idx if not 0 <= i < F]
    if bad:
        raise fail(f"feature index {bad[0]} is out of range: the {fmt} source has {F} latents (0..{F - 1})")
    labels_ = _per_feature(labels, len(idx), "labels")
    names_ = _per_feature(names, len(idx), "names")
    maxes = _per_feature(1.0 if max_activation is None else max_activation, len(idx), "max_activation")

    multi = len(by_layer) > 1
    tensors = {}
    for i, f in enumerate(by_layer.values()):
        suffix = f".{i}" if multi else ""
        tensors.update({name + suffix: t for name, t in _select(f, idx).items()})
    for name, t in tensors.items():
        if not torch.isfinite(t.float()).all():
            raise fail(f"{name} of the selected features contains NaN/Inf (after folding, in float32)")

    feats = [
        {
            "name": nm or f"f{i}",
            "index": j,
            "label": lb or f"{fmt} latent {i}",
            "description": f"latent {i} of the imported {fmt} SAE",
            "default_op": "monitor",
            "max_activation": float(mx),
        }
        for j, (i, nm, lb, mx) in enumerate(zip(idx, names_, labels_, maxes, strict=True))
    ]
    first = next(iter(by_layer.values()))
    where = f" --layer {layer}" if layer is not None else ""
    src_cmd = f"steer pack import --format {fmt}{where} --features {','.join(map(str, idx))}"
    manifest = {
        "id": pack_id,
        "version": version,
        "title": title or f"{pack_id} (imported from {fmt})",
        "description": description,
        "model": model.model_dump(),
        **({"sites": [{"layer": lay} for lay in by_layer]} if multi else {"site": {"layer": next(iter(by_layer))}}),
        "encoder": {"kind": first.kind, "k": first.k},
        "features": feats,
        "provenance": {
            "source": f"imported from {fmt}",
            "command": command or src_cmd,
            "date": _dt.date.today().isoformat(),
        },
    }
    card = _card(manifest, idx, fmt)
    try:
        return save_pack(dst, manifest, tensors, card=card)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "manifest"
        raise fail(f"imported manifest is invalid: {where}: {first['msg']}") from None


def _select(folded: Folded, idx: list[int]) -> dict[str, torch.Tensor]:
    """The tensors of latents ``idx`` (in that order) of one source."""
    sel = torch.tensor(idx)
    out = {"W_dec": folded.W_dec[sel]}  # [F', d]
    if folded.W_enc is not None:
        out["W_enc"] = folded.W_enc[:, sel]  # [d, F']
    if folded.b_enc is not None:
        out["b_enc"] = folded.b_enc[sel]  # [F']
    if folded.threshold is not None:
        out["threshold"] = folded.threshold[sel]  # [F']
    return out


def _card(manifest: dict, idx: list[int], fmt: str) -> str:
    rows = "\n".join(f"| {f['name']} | {i} | {f['label']} |" for f, i in zip(manifest["features"], idx, strict=True))
    layers = ", ".join(str(s["layer"]) for s in manifest.get("sites") or [manifest["site"]])
    return (
        f"# {manifest['title']}\n\nImported from a {fmt} source for {manifest['model']['name']}, layer(s) "
        f"{layers} (encoder kind `{manifest['encoder']['kind']}`). Source biases and input "
        f"scaling are folded into `W_enc`/`b_enc`/`W_dec`.\n\n| feature | source latent | label |\n|---|---|---|\n"
        f"{rows}\n"
    )
