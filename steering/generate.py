"""A minimal steered greedy/sampled generation loop (batch 1) for offline evaluation and pack building.

Serving uses the batching engines in ``server/engines``; this loop exists so offline tools in ``steering/`` can
generate with a config row without depending on the server.
"""

from __future__ import annotations

import torch
from transformers import DynamicCache

from steering.runtime import BatchState, SteeringRuntime


@torch.no_grad()
def generate(model, runtime: SteeringRuntime, prompt_ids: list[int], row: int, *, max_new_tokens: int,
             eos_ids: set[int], generated_only: bool = False) -> list[int]:
    """Greedy continuation of ``prompt_ids`` with config ``row`` on every position but the sink (with
    ``generated_only``: on the generated tokens fed back only, the prompt runs unsteered). Hooks must be attached
    (``steering.hooks.attach``)."""
    p = len(prompt_ids)
    rows = torch.full((p,), 0 if generated_only else row)
    rows[0] = 0
    runtime.batch = BatchState(row=rows, rows_present={0, row})
    cache = DynamicCache()
    logits = model(input_ids=torch.tensor([prompt_ids]), past_key_values=cache, use_cache=True,
                   logits_to_keep=1).logits[0, -1]
    out: list[int] = []
    for _ in range(max_new_tokens):
        tok = int(logits.argmax())
        if tok in eos_ids:
            break
        out.append(tok)
        runtime.batch = BatchState(row=torch.tensor([row]), rows_present={0, row})
        logits = model(input_ids=torch.tensor([[tok]]), past_key_values=cache, use_cache=True).logits[0, -1]
    runtime.batch = BatchState()
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
