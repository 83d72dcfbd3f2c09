"""Concept steering: how often steered replies to neutral prompts bring up the concept, and at what fluency cost.

Fluency is the perplexity of the steered reply under the *unsteered* model, as a ratio to the unsteered reply's
perplexity (1.0 = as fluent as the model's own answer).
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass

from tqdm import tqdm

from steering.generate import generate, perplexity
from steering.hooks import attach
from steering.runtime import FeatureRef, SteeringRuntime


@dataclass
class ConceptPoint:
    op: str
    value: float
    mention_rate: float
    ppl_ratio: float
    example: str


def chat_ids(tokenizer, text: str) -> list[int]:
    s = tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True, tokenize=False)
    return tokenizer(s, add_special_tokens=False)["input_ids"]


def concept_sweep(model, tokenizer, runtime: SteeringRuntime, ref: FeatureRef, prompts: list[str], pattern: str,
                  settings: list[tuple[str, float]], max_new_tokens: int = 48) -> list[ConceptPoint]:
    """Mention rate and perplexity ratio for each ``(op, absolute value)``; ``("none", 0)`` is the baseline."""
    rx = re.compile(pattern, re.I)
    eos = {tokenizer.eos_token_id}
    ids = [chat_ids(tokenizer, p) for p in prompts]
    points, base_ppl = [], None
    with attach(model, runtime):
        for op, value in tqdm(settings, desc="strengths"):
            row = 0 if op == "none" else runtime.rows.acquire({ref: (op, value)})
            outs = [generate(model, runtime, i, row, max_new_tokens=max_new_tokens, eos_ids=eos) for i in ids]
            runtime.rows.release(row)
            texts = [tokenizer.decode(o, skip_special_tokens=True) for o in outs]
            runtime.batch.row = None  # hooks idle: fluency is judged by the unsteered model
            ppl = [perplexity(model, i, o) for i, o in zip(ids, outs, strict=True)]
            med = statistics.median([p for p in ppl if not math.isnan(p)] or [float("nan")])
            base_ppl = med if op == "none" else base_ppl
            rate = sum(bool(rx.search(t)) for t in texts) / len(texts)
            points.append(ConceptPoint(op, value, rate, med / base_ppl if base_ppl else float("nan"), texts[0][:160]))
    return points
