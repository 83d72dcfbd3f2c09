"""Gemma Scope JumpReLU SAEs: ``params.npz`` with ``W_enc [d, F]``, ``W_dec [F, d]``, ``b_enc [F]``, ``b_dec [d]``,
``threshold [F]`` (the layout of google/gemma-scope-* releases).

Gemma Scope encodes the raw residual -- it does NOT subtract ``b_dec`` first -- so nothing is folded::

    pre = x @ W_enc + b_enc;  act = ReLU(pre) * (pre > threshold);  out = act @ W_dec + b_dec

The only change is ``threshold' = max(threshold, 0)``, which makes the runtime's ``pre * (pre > t)`` equal to
``ReLU(pre) * (pre > t)`` for every ``pre`` (released thresholds are positive, so this is a no-op in practice).
The npz is read with ``allow_pickle=False``: an object array in it is refused, never unpickled.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from steering.pack.importers.common import Folded, check_shape, fail, need_file, refuse_pickle
from steering.pack.importers.registry import register

PARAMS = "params.npz"


@register("gemmascope")
def load_gemmascope(src: Path, *, layer: int) -> Folded:
    del layer  # the file does not pin the site; the caller names it
    refuse_pickle(src, "Gemma Scope parameters")
    path = need_file(src / PARAMS if src.is_dir() else src)
    if path.suffix != ".npz":
        raise fail(f"a Gemma Scope source is a {PARAMS} file or a directory holding one, not '{path.name}'")
    w = _read_npz(path)
    W_enc = w.get("W_enc")  # [d, F]
    if W_enc is None or W_enc.ndim != 2:
        raise fail(f"'{path.name}' needs a 2-D W_enc [d, F]")
    d, F = W_enc.shape
    W_dec = check_shape(path.name, "W_dec", w.get("W_dec"), (F, d))
    b_enc = check_shape(path.name, "b_enc", w.get("b_enc"), (F,))
    check_shape(path.name, "b_dec", w.get("b_dec"), (d,))  # reconstruction bias only: not used by the pack
    threshold = check_shape(path.name, "threshold", w.get("threshold"), (F,)).clamp_min(0.0)
    return Folded("sae-jumprelu", W_dec, W_enc, b_enc, threshold)


def _read_npz(path: Path) -> dict[str, torch.Tensor]:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError, zipfile.BadZipFile) as e:
        raise fail(f"'{path.name}' could not be read as a plain npz ({e.__class__.__name__})") from None
    out = {}
    for k, a in arrays.items():
        if a.dtype.kind not in "fiu":
            raise fail(f"'{path.name}': array '{k}' has dtype {a.dtype}, expected floats")
        out[k] = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))
    return out
