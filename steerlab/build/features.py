"""Feature discovery (seed steps 4–5): max-activating contexts per feature, and contrastive search.

Works on any pack (an SAE imported with ``steer pack import saelens`` gives one column per latent; probes and
directions work too), through the runtime's own activation function, so what you read here is what a monitor sees.

>>> top = top_contexts(acts, tokens, table.activation, cols=[0, 3], n_top=5)   # doctest: +SKIP
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True, order=True)
class Context:
    value: float
    text_index: int
    token_index: int
    snippet: str  # the window around the token, the token itself in «guillemets»


def snippet(tokens: list[str], i: int, window: int) -> str:
    lo, hi = max(0, i - window), min(len(tokens), i + window + 1)
    parts = tokens[lo:i] + [f"«{tokens[i]}»"] + tokens[i + 1 : hi]
    return "".join(parts).replace("\n", "⏎")


def top_contexts(acts: list[torch.Tensor], tokens: list[list[str]], activation: Callable[[torch.Tensor], torch.Tensor],
                 cols: list[int], n_top: int = 10, window: int = 8,
                 massive: float | None = 10.0) -> dict[int, list[Context]]:
    """For each column in ``cols``: the ``n_top`` (text, token) positions with the highest activation, at most one
    per text (so one long document cannot fill the list). ``acts[i]`` is ``[T_i, d]``, ``tokens[i]`` its strings.
    ``massive``: leave out tokens whose residual norm is over this many times the median over all texts (the few
    "massive activation" tokens, e.g. a text's first newline, give nearly every feature its largest value and
    would fill every list; steerlab/build/sae.py ``fvu_typical`` sets them apart the same way)."""
    heaps: dict[int, list[Context]] = {c: [] for c in cols}
    limit = None
    if massive is not None and acts:
        median = torch.cat([a.norm(dim=1) for a in acts]).median()
        limit = massive * median if median > 0 else None
    for ti, (a, toks) in enumerate(zip(acts, tokens, strict=True)):
        f = activation(a)[:, cols]  # [T, len(cols)]
        if limit is not None:
            f = f.masked_fill((a.norm(dim=1) > limit).unsqueeze(1), float("-inf"))
        if not torch.isfinite(f).any():
            continue
        vals, idx = f.max(0)
        for j, c in enumerate(cols):
            ctx = Context(float(vals[j]), ti, int(idx[j]), snippet(toks, int(idx[j]), window))
            if len(heaps[c]) < n_top:
                heapq.heappush(heaps[c], ctx)
            elif ctx > heaps[c][0]:
                heapq.heapreplace(heaps[c], ctx)
    return {c: sorted(h, reverse=True) for c, h in heaps.items()}


def contrastive(pos: list[torch.Tensor], neg: list[torch.Tensor], activation: Callable[[torch.Tensor], torch.Tensor],
                n: int = 20) -> list[tuple[int, float, float, float]]:
    """Columns that fire on positive texts and not on negative ones: rank by the gap between the fraction of
    positive and negative texts whose max activation exceeds the column's median over all texts' maxima.
    Returns ``(column, score, mean max on positives, mean max on negatives)``."""
    P = torch.stack([activation(a).max(0).values for a in pos])  # [n_pos, F]
    N = torch.stack([activation(a).max(0).values for a in neg])  # [n_neg, F]
    thr = torch.cat([P, N]).median(0).values  # [F]
    score = (thr < P).float().mean(0) - (thr < N).float().mean(0)  # [F]
    order = score.argsort(descending=True)[:n]
    return [(int(c), float(score[c]), float(P[:, c].mean()), float(N[:, c].mean())) for c in order]


def auto_label(contexts: list[Context]) -> str:
    """A first label from the most frequent highlighted tokens (a human should refine it in the card)."""
    from collections import Counter

    words = Counter(c.snippet.split("«", 1)[1].split("»", 1)[0].strip().lower() for c in contexts)
    return ", ".join(w for w, _ in words.most_common(3) if w) or "(no clear token)"


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("`", "'")


def markdown_report(top: dict[int, list[Context]], names: dict[int, str]) -> str:
    lines = ["# Top-activating contexts", ""]
    for c, ctxs in top.items():
        lines += [f"## {names.get(c, c)} — auto label: {auto_label(ctxs)}", "", "| activation | context |", "|---|---|"]
        lines += [f"| {x.value:.3f} | `{_cell(x.snippet)}` |" for x in ctxs]
        lines.append("")
    return "\n".join(lines)
