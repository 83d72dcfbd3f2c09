"""Control-vector GGUF files, as written by repeng (``ControlVector.export_gguf``) and llama.cpp's
``cvector-generator``: architecture ``controlvector``, keys ``controlvector.model_hint`` and
``controlvector.layer_count``, and one F32 tensor ``direction.N [d]`` per steered layer.

Layer numbering: ``N`` is the 0-based index of the decoder layer whose OUTPUT the vector is added to, which is
exactly this project's ``site.layer`` -- so ``direction.N`` imports to layer ``N`` with no offset. Checked against
both writers/readers: repeng reads ``hidden_states[N + 1]`` (the output of ``model.layers[N]``) and adds the
vector to that layer's output; llama.cpp's loader puts ``direction.N`` in ``tensors[N]``, which ``build_cvec``
adds after decoder layer ``N`` (and it rejects ``direction.0``). The pack gets one feature of kind
``direction``: ``W_dec`` is the vector with its norm kept (``add 1.0`` = llama.cpp strength 1), ``W_enc`` the
projection coefficient onto it (see :mod:`steering.pack.importers.direction`).

Without a ``layer`` the whole control vector becomes one pack (format v2): one feature ``direction`` with a site
per ``direction.N``, so ``add 1.0`` steers at every layer in one forward, as llama.cpp's ``--control-vector`` does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from steering.pack.importers.common import Folded, fail, need_file
from steering.pack.importers.direction import direction_pack_tensors
from steering.pack.importers.registry import register

ARCH = "controlvector"


@register("gguf")
def load_gguf_control_vector(src: Path, *, layer: int | None = None) -> Folded | dict[int, Folded]:
    """The direction at ``layer``, or with ``layer=None`` every direction of the file (layer → source)."""
    import gguf  # local: only this importer needs it

    path = need_file(src)
    if path.suffix.lower() != ".gguf":
        raise fail(f"a control-vector source is a .gguf file, not '{path.name}'")
    try:
        reader = gguf.GGUFReader(path)
    except Exception as e:  # the reader raises ValueError/struct errors/... on a malformed file
        raise fail(f"'{path.name}' could not be read as GGUF ({e.__class__.__name__})") from None
    field = reader.get_field("general.architecture")
    arch = bytes(field.parts[-1]).decode("utf-8", "replace") if field is not None and field.parts else None
    if arch != ARCH:
        raise fail(f"'{path.name}' is not a control vector (general.architecture is {arch!r}, expected {ARCH!r})")
    directions: dict[int, np.ndarray] = {}
    for t in reader.tensors:
        prefix, _, num = t.name.partition(".")
        if prefix != "direction" or not num.isdigit():
            raise fail(f"'{path.name}': unexpected tensor '{t.name[:40]}' (expected direction.<layer>)")
        directions[int(num)] = np.asarray(t.data)
    if not directions:
        raise fail(f"'{path.name}' holds no direction.<layer> tensors")
    if layer is None:
        return {n: _folded(path, n, v) for n, v in sorted(directions.items())}
    if layer not in directions:
        have = ", ".join(map(str, sorted(directions)))
        raise fail(f"'{path.name}' has no direction for layer {layer} (layers present: {have})")
    return _folded(path, layer, directions[layer])


def _folded(path: Path, layer: int, v: np.ndarray) -> Folded:
    if v.ndim != 1 or v.dtype.kind != "f":
        raise fail(f"'{path.name}': direction.{layer} must be a 1-D float tensor, got {v.dtype} {list(v.shape)}")
    t = direction_pack_tensors(torch.from_numpy(v.astype(np.float64))[None, :])  # [1, d]
    return Folded("direction", t["W_dec"], t["W_enc"], t["b_enc"])
