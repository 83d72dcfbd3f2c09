"""Residual-stream activations at one layer, running the model only up to that layer."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from tqdm import tqdm

from steering.hooks import StopForward, decoder_layers


@torch.no_grad()
def layer_activations(model, tokenizer, texts: list[str], layer: int, *, max_tokens: int = 256,
                      batch_size: int = 1, desc: str = "activations") -> Iterator[torch.Tensor]:
    """Yield, per text (in order), the residual stream after decoder layer ``layer`` as ``[T-1, d]`` float32,
    without the first position (the attention sink, whose norm is ~100x the others). ``batch_size`` texts run
    together, right-padded (real tokens never attend to the padding after them); give texts of similar length
    (sorted) to waste little compute on padding."""
    layers = decoder_layers(model)
    box: list[torch.Tensor] = []

    def grab(module, args, output):
        box.append(output[0] if isinstance(output, tuple) else output)
        raise StopForward  # nothing after this layer needs to run

    handle = layers[layer].register_forward_hook(grab)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    try:
        with tqdm(total=len(texts), desc=desc, unit="text") as bar:
            for lo in range(0, len(texts), batch_size):
                ids = [tokenizer(t, truncation=True, max_length=max_tokens)["input_ids"]
                       for t in texts[lo: lo + batch_size]]
                T = max(map(len, ids))
                x = torch.full((len(ids), T), pad, dtype=torch.long)
                mask = torch.zeros(len(ids), T, dtype=torch.long)
                for i, s in enumerate(ids):
                    x[i, : len(s)], mask[i, : len(s)] = torch.tensor(s), 1
                box.clear()
                with contextlib.suppress(StopForward):
                    model(input_ids=x, attention_mask=mask, use_cache=False)
                for i, s in enumerate(ids):
                    yield box[0][i, 1: len(s)].float()  # [T-1, d]
                bar.update(len(ids))
    finally:
        handle.remove()
