"""Residual-stream activations at one layer, running the model only up to that layer."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from tqdm import tqdm

from steering.hooks import decoder_layers


class _Stop(Exception):
    pass


@torch.no_grad()
def layer_activations(model, tokenizer, texts: list[str], layer: int, *, max_tokens: int = 256,
                      desc: str = "activations") -> Iterator[torch.Tensor]:
    """Yield, per text, the residual stream after decoder layer ``layer`` as ``[T-1, d]`` float32, without the
    first position (the attention sink, whose norm is ~100x the others)."""
    layers = decoder_layers(model)
    box: list[torch.Tensor] = []

    def grab(module, args, output):
        box.append(output[0] if isinstance(output, tuple) else output)
        raise _Stop  # nothing after this layer needs to run

    handle = layers[layer].register_forward_hook(grab)
    try:
        for text in tqdm(texts, desc=desc, unit="text"):
            ids = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_tokens)["input_ids"]
            box.clear()
            with contextlib.suppress(_Stop):
                model(input_ids=ids, use_cache=False)
            yield box[0][0, 1:].float()  # [T-1, d]
    finally:
        handle.remove()
