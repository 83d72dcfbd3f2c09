"""What every importer shares: the folded-SAE record, safe readers, and the pack builder.

An importer's only job is to turn a foreign file into a :class:`Folded` SAE, i.e. tensors that the runtime's
formula reproduces *exactly* (``pre = h @ W_enc + b_enc``; ``act`` = ReLU / JumpReLU / identity; feature ``i``
adds ``act_i * W_dec[i]``). Anything the source does around that formula must be folded into the tensors
(``b_dec`` subtracted from the input, a scalar input scaling) or refused with a clear message. Folding happens in
float64; the pack is written in float32. :func:`build_pack` then keeps the requested latents and writes the pack.

Error messages name files by their base name only: they may reach a client, and paths must not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file

from steering.errors import PackError
from steering.pack.io import PICKLE_SUFFIXES
from steering.pack.manifest import EncoderKind

MAX_CFG_BYTES = 1 << 20


@dataclass(frozen=True)
class Folded:
    """A source SAE folded into pack form, all latents: ``W_dec [F, d]``, ``W_enc [d, F]``, ``b_enc [F]``,
    ``threshold [F]`` (JumpReLU only). ``k`` is the source's TopK k (informational: no top-k at runtime)."""

    kind: EncoderKind
    W_dec: torch.Tensor
    W_enc: torch.Tensor | None = None
    b_enc: torch.Tensor | None = None
    threshold: torch.Tensor | None = None
    k: int | None = None


def fail(message: str) -> PackError:
    return PackError(message, reason="import")


def refuse_pickle(path: Path, what: str, skip: tuple[str, ...] = ()) -> None:
    """Refuse pickle checkpoints up front: loading one can run arbitrary code. ``skip``: file names in the
    directory that the importer knows it never opens (the caller says so to the user)."""
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise fail(f"'{path.name}' is a pickle-based checkpoint and is refused; {what} must be safetensors / npz")
    if path.is_dir():
        found = sorted(p.name for p in path.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES and p.name not in skip)
        if found:
            raise fail(f"'{path.name}' holds pickle-based checkpoints ({', '.join(found[:3])}), which are refused")


def need_file(path: Path) -> Path:
    if not path.is_file():
        raise fail(f"'{path.parent.name}/{path.name}' not found")
    return path


def read_json(path: Path) -> dict:
    need_file(path)
    if path.stat().st_size > MAX_CFG_BYTES:
        raise fail(f"'{path.name}' is larger than {MAX_CFG_BYTES} bytes")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise fail(f"'{path.name}' is not valid JSON ({e.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise fail(f"'{path.name}' must hold a JSON object")
    return data


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file as float64 (folding precision)."""
    try:
        tensors = load_file(need_file(path))
    except PackError:
        raise
    except Exception as e:  # safetensors raises its own types for framing errors
        raise fail(f"'{path.name}' could not be read as safetensors ({e.__class__.__name__})") from None
    return {k: v.to(torch.float64) for k, v in tensors.items()}


def check_shape(fname: str, name: str, t: torch.Tensor | None, shape: tuple[int, ...]) -> torch.Tensor:
    if t is None:
        raise fail(f"'{fname}' has no tensor '{name}'")
    if tuple(t.shape) != shape:
        raise fail(f"'{fname}': {name} has shape {list(t.shape)}, expected {list(shape)}")
    return t


def fold_input_bias(W_enc: torch.Tensor, b_enc: torch.Tensor, b_dec: torch.Tensor) -> torch.Tensor:
    """The source encodes ``(x - b_dec) @ W_enc + b_enc``; the pack has no ``b_dec``, so move it into the bias:
    ``b_enc' = b_enc - b_dec @ W_enc``  (``W_enc [d, F]``, ``b_dec [d]`` → ``[F]``)."""
    return b_enc - b_dec @ W_enc
