"""Attach the fused op to a Hugging Face decoder-only model's layers, and always take it off again.

The hook reads and edits the *output* of decoder layer ``L`` (the residual stream after the layer,
``resid_post``). Layer lists are found by module path for the architectures we test (Llama/SmolLM2, Qwen2,
Gemma, GPT-2, GPT-NeoX) and, failing that, as the model's only ``ModuleList`` with ``num_hidden_layers`` entries.

>>> with attach(model, runtime):          # doctest: +SKIP
...     model(**inputs)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from steering.runtime import SteeringRuntime

LAYER_PATHS = ("model.layers", "model.language_model.layers", "transformer.h", "gpt_neox.layers", "model.decoder.layers")


def _get(obj: object, dotted: str) -> object | None:
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The model's list of decoder layers (raises ValueError when none is recognisable)."""
    for path in LAYER_PATHS:
        layers = _get(model, path)
        if isinstance(layers, nn.ModuleList):
            return layers
    n = getattr(getattr(model, "config", None), "num_hidden_layers", None)
    candidates = [m for m in model.modules() if isinstance(m, nn.ModuleList) and len(m) == n]
    if len(candidates) == 1:
        return candidates[0]
    raise ValueError(f"cannot find the decoder layers of {type(model).__name__}")


def _make_hook(runtime: SteeringRuntime, layer: int):
    def hook(module: nn.Module, args: tuple, output: torch.Tensor | tuple) -> torch.Tensor | tuple:
        if isinstance(output, tuple):  # older layer classes return (hidden, *extras)
            return (runtime.apply_site(layer, output[0]), *output[1:])
        return runtime.apply_site(layer, output)

    hook._steerserve = True  # type: ignore[attr-defined]
    return hook


@contextmanager
def attach(model: nn.Module, runtime: SteeringRuntime) -> Iterator[list]:
    """Register one forward hook per site of ``runtime``; every handle is removed on exit, exception or not."""
    layers = decoder_layers(model)
    handles = []
    try:
        for layer in runtime.sites:
            if layer >= len(layers):
                raise ValueError(f"pack site layer {layer} is outside the model's {len(layers)} layers")
            # prepend: transformers captures hidden states with its own hooks; they must see the steered stream
            handles.append(layers[layer].register_forward_hook(_make_hook(runtime, layer), prepend=True))
        yield handles
    finally:
        for h in handles:
            h.remove()


def hook_count(model: nn.Module) -> int:
    """steerserve forward hooks currently on the decoder layers (tests and soak checks use it)."""
    return sum(
        getattr(h, "_steerserve", False) for layer in decoder_layers(model) for h in layer._forward_hooks.values()
    )


class StopForward(Exception):
    """Raised by :func:`stop_after` to end a forward pass early."""


@contextmanager
def stop_after(model: nn.Module, layer: int) -> Iterator[None]:
    """End every forward pass inside the block after decoder ``layer`` (readers of residuals need no more:
    the layers above it and the vocabulary projection are skipped)."""

    def hook(module, args, output):
        raise StopForward

    h = decoder_layers(model)[layer].register_forward_hook(hook)
    try:
        yield
    finally:
        h.remove()
