"""Label a trained SAE's latents from their top-activating contexts, and choose which ones ship as a pack.

:func:`scan` runs held-out text (never used to train the SAE) through the model and the *whole* TopK SAE (so a
latent's value is what the SAE itself computes, TopK included) and keeps, per latent, how often it fires and its
``n_top`` strongest contexts (at most one per text). :func:`label_latent` names a latent from its top tokens, the
words around them and the share of its contexts that are code; the label is a first guess for a human to refine.
:func:`concept_latents` is the contrastive search (seed step 4) against the SAE: latents whose activation separates
positive texts from negative ones (AUROC).

>>> scan_result = scan(sae, scale, model, tok, texts, sources, layer=15)   # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import torch

from steerlab.build.activations import layer_activations
from steerlab.build.features import Context, snippet
from steerlab.build.sae import TopKSAE

STOPWORDS = frozenset((
    "the", "a", "an", "of", "to", "and", "in", "is", "that", "it", "for", "on", "as", "with",
    "was", "by", "at", "be", "this", "are", "or", "from", "his", "her", "he", "she", "they", "their",
    "its", "i", "you", "we", "not", "but", "have", "has", "had", "were", "which", "one", "all", "also",
))


@dataclass
class Scan:
    """What :func:`scan` measured: ``freq [F]`` (share of tokens each latent fires on), ``top_val/top_text/top_tok
    [F, n]`` (strongest contexts, one per text), the texts' token strings and sources."""

    freq: torch.Tensor
    top_val: torch.Tensor
    top_text: torch.Tensor
    top_tok: torch.Tensor
    tokens: list[list[str]]
    sources: list[str]
    n_tokens: int

    def contexts(self, latent: int, window: int = 10) -> list[Context]:
        out = []
        for v, t, i in zip(self.top_val[latent].tolist(), self.top_text[latent].tolist(),
                           self.top_tok[latent].tolist(), strict=True):
            if v > 0:
                out.append(Context(v, t, i, snippet(self.tokens[t], i, window)))
        return out


@torch.no_grad()
def scan(sae: TopKSAE, scale: float, model, tok, texts: list[str], sources: list[str], *, layer: int,
         n_top: int = 8, max_tokens: int = 256, batch_size: int = 16) -> Scan:
    """Encode every token of ``texts`` with the TopK SAE (inputs times ``scale``) and keep per-latent statistics."""
    F = sae.width
    fired = torch.zeros(F, dtype=torch.long)
    top_val = torch.zeros(F, n_top)
    top_text = torch.zeros(F, n_top, dtype=torch.long)
    top_tok = torch.zeros(F, n_top, dtype=torch.long)
    tokens, n = [], 0
    stream = layer_activations(model, tok, texts, layer, max_tokens=max_tokens, batch_size=batch_size,
                               desc="scan")
    for ti, a in enumerate(stream):
        ids = tok(texts[ti], truncation=True, max_length=max_tokens)["input_ids"][1:]
        tokens.append([tok.decode([t]) for t in ids])
        z = sae.encode(a.float() * scale)  # [T, F]
        n += len(z)
        fired += (z > 0).sum(0)
        vals, idx = z.max(0)  # [F]
        cand_v = torch.cat([top_val, vals[:, None]], 1)  # [F, n+1]
        cand_t = torch.cat([top_text, torch.full((F, 1), ti)], 1)
        cand_i = torch.cat([top_tok, idx[:, None]], 1)
        keep = cand_v.topk(n_top, dim=1).indices
        top_val, top_text, top_tok = cand_v.gather(1, keep), cand_t.gather(1, keep), cand_i.gather(1, keep)
    return Scan(fired.float() / max(n, 1), top_val, top_text, top_tok, tokens, list(sources), n)


def _word(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


@dataclass
class LatentLabel:
    index: int
    label: str
    freq: float
    max_activation: float
    code_share: float  # share of the top contexts that come from code
    token_share: float  # share of the top contexts whose highlighted token is the most common one
    contexts: list[Context] = field(default_factory=list)


def label_latent(s: Scan, latent: int) -> LatentLabel:
    """A first label: the most common highlighted tokens (quoted), else the most common words around them;
    ``[code]`` / ``[prose]`` when most contexts come from one register."""
    ctxs = s.contexts(latent)
    toks = Counter(_word(s.tokens[c.text_index][c.token_index]) for c in ctxs)
    toks.pop("", None)
    words = Counter()
    for c in ctxs:
        lo = max(0, c.token_index - 6)
        for w in re.findall(r"[A-Za-z_][A-Za-z_]+", "".join(s.tokens[c.text_index][lo: c.token_index + 2])):
            if w.lower() not in STOPWORDS:
                words[w.lower()] += 1
    code = sum(s.sources[c.text_index] == "python-code" for c in ctxs) / len(ctxs) if ctxs else 0.0
    top_tok, top_n = toks.most_common(1)[0] if toks else ("", 0)
    token_share = top_n / len(ctxs) if ctxs else 0.0
    if token_share >= 0.5:
        label = "token " + " / ".join(f"'{t}'" for t, _ in toks.most_common(2))
    else:
        label = "context: " + ", ".join(w for w, _ in words.most_common(3)) if words else "(no clear pattern)"
    register = " [code]" if code >= 0.75 else " [prose]" if code <= 0.25 else ""
    return LatentLabel(latent, label + register, float(s.freq[latent]), float(s.top_val[latent, 0]), code,
                       token_share, ctxs)


@torch.no_grad()
def concept_latents(sae: TopKSAE, scale: float, model, tok, positive: list[str], negative: list[str], *,
                    layer: int, n: int = 5) -> list[tuple[int, float, float, float]]:
    """Latents whose per-text max separates positive from negative texts: rank by AUROC (the chance that a random
    positive text's max beats a random negative's, ties half), then by mean max on positives. Returns
    ``(latent, auroc, mean max on positives, mean max on negatives)``."""
    def maxes(texts: list[str], desc: str) -> torch.Tensor:
        acts = layer_activations(model, tok, texts, layer, batch_size=16, desc=desc)
        return torch.stack([sae.encode(a.float() * scale).max(0).values for a in acts])  # [n, F]

    P, N = maxes(positive, "positive"), maxes(negative, "negative")
    wins = torch.zeros(P.shape[1])
    for p in P:  # [F] against every negative
        wins += (p > N).float().sum(0) + 0.5 * (p == N).float().sum(0)
    auc = wins / (len(P) * len(N))
    mp = P.mean(0)
    order = torch.argsort(auc + 1e-6 * mp / (mp.max() + 1e-9), descending=True)[:n]
    return [(int(i), float(auc[i]), float(P[:, i].mean()), float(N[:, i].mean())) for i in order]


def markdown(labels: list[LatentLabel], *, title: str, intro: str, groups: dict[str, list[int]]) -> str:
    """A browsable report: a table of every shipped latent, then each latent's top contexts."""
    by = {x.index: x for x in labels}
    lines = [f"# {title}", "", intro, ""]
    for group, idx in groups.items():
        lines += [f"## {group}", "", "| latent | label | fires on | max | code share | contexts |",
                  "|---|---|---|---|---|---|"]
        for i in idx:
            x = by[i]
            lines.append(f"| {i} | {x.label} | {x.freq:.3%} | {x.max_activation:.2f} | {x.code_share:.0%} | "
                         f"[top {len(x.contexts)}](#latent-{i}) |")
        lines.append("")
    lines += ["## Top contexts", ""]
    for group, idx in groups.items():
        for i in idx:
            x = by[i]
            lines += [f"### latent {i}", "", f"{x.label} — {group}; fires on {x.freq:.3%} of tokens", "",
                      "| activation | context (token in «») |", "|---|---|"]
            lines += [f"| {c.value:.2f} | `{c.snippet.replace('|', '/').replace('`', chr(39))}` |" for c in x.contexts]
            lines.append("")
    return "\n".join(lines)
