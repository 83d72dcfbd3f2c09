"""The gender eraser's latch: a token-level "a gender is stated here" probe (fit split).

The gate of :mod:`steerlab.build.gender_readout` reads one token: "is a pronoun due here for a person of unstated
gender?". At the last token of a hand-written prompt it cannot always tell whether a name or a noun several words
back stated the gender (AUROC ≤ 0.91 at every layer, decision 67). The cue word itself is easy to read *where it
is*: this probe fires on the tokens of a gendered word (a name, a title, a pronoun, a gendered noun) and not on the
tokens of occupation prompts or ordinary text. The pack's ``condition.latch`` then closes the gate from the first
token it fires on to the end of the request.

Labels come from the word lists of :mod:`steerlab.build.gender_cues` (fit words only): in every fit prompt and
fit neutral paragraph, the tokens of a listed word are positive, the tokens before the first listed word negative,
the tokens after it left out (they may carry the stated gender on). The threshold is a quantile of the probe's
maximum over each unstated fit prompt (occupation prompts and the unstated twins), so the latch stays open on
that share of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from tqdm import tqdm

from steerlab.build.bias_data import GENDERED_PAIRS, STATED_NAMES, neutral_texts
from steerlab.build.gender_cues import TITLES, first_names, noun_pairs

PRONOUNS = ("she", "he", "her", "his", "him", "herself", "himself")
NOT_CUES = {"my", "the", "ex", "twin"}  # parts of the listed nouns that state nothing alone


def cue_pattern(all_words: bool = False) -> re.Pattern:
    """Whole words that state a gender: fit names (case-sensitive), and pronouns, titles and gendered nouns (with
    ``all_words``, the dev and test splits' names and nouns too)."""
    splits = ("fit", "dev", "test") if all_words else ("fit",)
    female, male = first_names(all_words=all_words)
    names = set(female) | set(male) | {n for s in splits for pair in STATED_NAMES[s] for n in pair}
    words = set(PRONOUNS) | {t.rstrip(".").lower() for group in TITLES for t in group} | {"woman", "man"}
    for f, m in noun_pairs(all_words) + [p for s in splits for p in GENDERED_PAIRS[s]]:
        words |= set(f.split()) | set(m.split())
    words -= NOT_CUES

    def alt(xs):
        return "|".join(sorted(map(re.escape, xs), key=len, reverse=True))

    return re.compile(rf"\b(?:(?i:{alt(words)})|{alt(names)})\b")


def token_labels(offsets: list[tuple[int, int]], text: str, pattern: re.Pattern) -> list[int]:
    """Per token: 1 inside a cue word, 0 before the first cue, -1 after it (and at the attention sink)."""
    spans = [m.span() for m in pattern.finditer(text)]
    first = min((s for s, _ in spans), default=len(text) + 1)
    return [-1 if t == 0 else 1 if any(a < e and b > s for s, e in spans) else -1 if a >= first else 0
            for t, (a, b) in enumerate(offsets)]


@dataclass
class LatchStates:
    """Residual states at one layer: cue tokens, non-cue tokens, and every token of each unstated fit prompt."""

    cue: torch.Tensor
    other: torch.Tensor
    unstated: list[torch.Tensor]


@torch.no_grad()
def token_states(model, tokenizer, texts: list[str], layer: int, batch_size: int = 32) -> list[tuple[torch.Tensor, list]]:
    """Per text: (residual after ``layer`` at each token ``[T, d]``, token character offsets)."""
    out: list = [None] * len(texts)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for i in tqdm(range(0, len(order), batch_size), desc=f"latch tokens, layer {layer}", unit="batch", leave=False):
        idx = order[i : i + batch_size]
        encs = [tokenizer(texts[j], add_special_tokens=False, return_offsets_mapping=True) for j in idx]
        T = max(len(e["input_ids"]) for e in encs)
        x, mask = torch.zeros(len(idx), T, dtype=torch.long), torch.zeros(len(idx), T, dtype=torch.long)
        for k, e in enumerate(encs):
            x[k, : len(e["input_ids"])], mask[k, : len(e["input_ids"])] = torch.tensor(e["input_ids"]), 1
        hs = model(input_ids=x, attention_mask=mask, output_hidden_states=True).hidden_states[layer + 1]
        for k, (j, e) in enumerate(zip(idx, encs, strict=True)):
            out[j] = (hs[k, : len(e["input_ids"])].float(), e["offset_mapping"])
    return out


def latch_states(model, tokenizer, layer: int, opened: list[str], closed: list[str], seed: int = 0,
                 all_words: bool = False) -> LatchStates:
    """Token states of the gate's fit prompts (``opened``: unstated, ``closed``: stated) and fit neutral text."""
    neutral = [tokenizer.decode(tokenizer(t)["input_ids"][:128], skip_special_tokens=True)
               for t in neutral_texts("fit", 48, seed)]
    texts = opened + closed + neutral
    pattern = cue_pattern(all_words)
    cue, other = [], []
    states = token_states(model, tokenizer, texts, layer)
    for text, (h, offsets) in zip(texts, states, strict=True):
        y = torch.tensor(token_labels(offsets, text, pattern))
        cue.append(h[y == 1]), other.append(h[y == 0])
    return LatchStates(torch.cat(cue), torch.cat(other), [h for h, _ in states[: len(opened)]])


def max_score(h: torch.Tensor, w: torch.Tensor, b: float) -> float:
    """The latch's statistic over one request: the probe's maximum over its tokens, the attention sink excepted."""
    return float((h[1:] @ w + b).max())
