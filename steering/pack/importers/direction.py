"""Pack tensors for bare steering directions (control vectors, probes' weight vectors, mean differences).

A direction ``v`` is stored as-is in ``W_dec`` (its norm is kept: ``add`` of value ``c`` adds ``c * v``, which is
what a control vector of strength ``c`` does). The encoder is the projection coefficient onto ``v``:
``W_enc[:, i] = v_i / ||v_i||^2`` with a zero bias, so the "activation" of ``h`` is the ``a`` for which
``a * v`` is the projection of ``h`` onto ``v``, and ``clamp to c`` moves exactly that component to ``c * v``.
"""

from __future__ import annotations

import torch

from steering.errors import PackError


def direction_pack_tensors(directions: torch.Tensor) -> dict[str, torch.Tensor]:
    """``directions [F, d]`` → ``{"W_dec" [F, d], "W_enc" [d, F], "b_enc" [F]}`` (same dtype as the input)."""
    if directions.ndim != 2:
        raise PackError(f"directions must be [F, d], got shape {list(directions.shape)}", reason="import")
    W_dec = directions  # [F, d]
    norm2 = (W_dec * W_dec).sum(dim=1)  # [F]
    if not (torch.isfinite(norm2).all() and (norm2 > 0).all()):
        raise PackError("a direction is zero or not finite; its projection is undefined", reason="import")
    W_enc = (W_dec / norm2[:, None]).T.contiguous()  # [d, F]
    return {"W_dec": W_dec, "W_enc": W_enc, "b_enc": torch.zeros_like(norm2)}
