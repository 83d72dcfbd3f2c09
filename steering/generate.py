"""A minimal steered greedy/sampled generation loop (batch 1) for offline evaluation and pack building.

Serving uses the batching engines in ``server/engines``; this loop exists so offline tools in ``steering/`` can
generate with a config row without depending on the server.
"""

from __future__ import annotations

import torch
from transformers import DynamicCache

from steering.runtime import SteeringRuntime

POSITIONS = ("all", "generated", "prompt")


@torch.no_grad()
def generate(model, runtime: SteeringRuntime, prompt_ids: list[int], row: int, *, max_new_tokens: int,
             eos_ids: set[int], positions: str = "all") -> list[int]:
    """Greedy continuation of ``prompt_ids`` with config ``row`` on the ``positions`` it names: ``all`` (every
    position but the sink), ``generated`` (the generated tokens fed back; the prompt runs unsteered) or ``prompt``
    (the prompt only, sink excepted: the model reads a steered prompt, then writes unsteered). Hooks must be
    attached (``steering.hooks.attach``)."""
    if positions not in POSITIONS:
        raise ValueError(f"positions must be one of {POSITIONS}, not {positions!r}")
    p = len(prompt_ids)
    decode_row = 0 if positions == "prompt" else row
    cache = DynamicCache()
    with runtime.forward(torch.full((p,), 0 if positions == "generated" else row), torch.zeros(p, dtype=torch.long),
                         torch.arange(p)) as state:
        logits = model(input_ids=torch.tensor([prompt_ids]), past_key_values=cache, use_cache=True,
                       logits_to_keep=1).logits[0, -1]
    out: list[int] = []
    for _ in range(max_new_tokens):
        tok = int(logits.argmax())
        if tok in eos_ids:
            break
        out.append(tok)
        latched = state.latch.latched()[:1] if state.latch is not None else None  # latches carry to the next pass
        with runtime.forward(torch.tensor([decode_row]), torch.zeros(1, dtype=torch.long),
                             torch.tensor([p + len(out) - 1]), latched=latched) as state:
            logits = model(input_ids=torch.tensor([[tok]]), past_key_values=cache, use_cache=True).logits[0, -1]
    return out


@torch.no_grad()
def perplexity(model, prompt_ids: list[int], completion_ids: list[int]) -> float:
    """Perplexity of ``completion_ids`` given ``prompt_ids`` under ``model`` as it is (hooks idle)."""
    if not completion_ids:
        return float("nan")
    ids = torch.tensor([prompt_ids + completion_ids])
    logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)  # [T-1, V]
    tgt = ids[0, 1:]
    nll = -logp[torch.arange(len(tgt)), tgt][len(prompt_ids) - 1 :]
    return float(nll.mean().exp())
