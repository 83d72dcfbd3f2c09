"""One-turn chat requests as the HF engine builds them, and the model's greedy answers to them (cached): shared by
the scope builder and evaluation, the concept and bias evaluations."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import torch
from tqdm import tqdm


def chat_ids(tokenizer, text: str, system: str | None = None) -> list[int]:
    """Token ids of a one-turn chat request, exactly as the HF engine builds them (template, no extra specials);
    ``system``: a system message before it (else the template's default)."""
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return tokenizer(prompt, add_special_tokens=False)["input_ids"]


def shared_prefix(ids: list[list[int]]) -> int:
    """Length of the token prefix every sequence in ``ids`` shares (the chat template's system turn)."""
    n = min(map(len, ids))
    for i in range(n):
        t = ids[0][i]
        if any(s[i] != t for s in ids):
            return i
    return n


def template_prefix(tokenizer) -> int:
    """Tokens every one-turn chat request starts with (system turn and ``<|im_start|>user\\n``)."""
    return shared_prefix([chat_ids(tokenizer, t) for t in ("x", "What?", "Hello there.")])


def fed_back(completion: list[int], max_new_tokens: int) -> list[int]:
    """The answer tokens the engine feeds through the model (and so the monitor reads): all of them when the
    answer ended with EOS, all but the last when it hit ``max_tokens`` (the last sampled token is never fed)."""
    return completion[:-1] if len(completion) >= max_new_tokens else completion


@torch.no_grad()
def greedy_answers(model, tokenizer, questions: list[str], max_new_tokens: int, batch: int = 32,
                   cache_file: Path | None = None) -> list[list[int]]:
    """The model's greedy answer to each question (token ids, EOS excluded), batched with left padding. Answers
    depend only on the model, so they are kept in ``cache_file`` (JSON, question → ids) and reused by later
    builds and evaluations."""
    cached: dict[str, list[int]] = json.loads(cache_file.read_text()) if cache_file and cache_file.exists() else {}
    todo = [q for q in dict.fromkeys(questions) if q not in cached]
    eos = model.generation_config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [eos]) | {tokenizer.eos_token_id}
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    for lo in tqdm(range(0, len(todo), batch), desc=f"greedy answers (≤{max_new_tokens} tokens)", unit="batch"):
        chunk = todo[lo: lo + batch]
        ids = [chat_ids(tokenizer, q) for q in chunk]
        T = max(map(len, ids))
        x = torch.full((len(ids), T), pad)
        mask = torch.zeros(len(ids), T, dtype=torch.long)
        for i, s in enumerate(ids):
            x[i, T - len(s):], mask[i, T - len(s):] = torch.tensor(s), 1
        gen = model.generate(input_ids=x, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=pad, eos_token_id=sorted(eos_ids))
        for q, row in zip(chunk, gen[:, T:].tolist(), strict=True):
            cached[q] = list(itertools.takewhile(lambda t: t not in eos_ids, row))
        if cache_file:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            cache_file.write_text(json.dumps(cached))
    return [cached[q] for q in questions]
