"""Generated matched pairs for the unsafe-code monitor: the same program, insecure and fixed.

:mod:`steerlab.build.code_constructs` writes each vulnerability class's constructs into varied program shapes with
names, paths, tables and hosts drawn from seeded vocabularies: ``(insecure, fixed)``, two programs that differ only
in the vulnerable construct. :func:`token_labels` marks, per token of each twin, whether it lies in the differing
region *after* the first differing character: before that point the two twins are the same text, so a causal
model's residual stream is identical and no label can tell them apart.

Contexts: a program can be raw, pasted into a chat message with prose around it, inside a markdown fence, or cut
off part-way (truncated after the vulnerable line) — what live traffic looks like, and where bandit cannot parse.
The hand-written sets (``steerlab/eval/data/unsafe_code_heldout.py``, set A, and ``unsafe_code_heldout_c.py``, set
C) were each written before the generator version that is measured on them and are never drawn from here;
:func:`handwritten_rows` puts their programs into the same four contexts the evaluation uses.
"""

from __future__ import annotations

import difflib
import random
from dataclasses import dataclass

from steerlab.build.code_constructs import CLASSES, _helper, _pick, render

CHAT_ASKS = ["Can you review this code?", "Is there anything wrong with this function?", "Here is my code:",
             "Please explain what this does.", "My teammate wrote this, thoughts?", "Why is this slow?",
             "Could you add type hints to this?", "Refactor this please:"]


@dataclass
class Sample:
    cls: str
    insecure: str  # full text as the model sees it (context included)
    fixed: str
    span: tuple[int, int]  # character span of the differing region in ``insecure`` (after the shared prefix)
    fixed_span: tuple[int, int]
    context: str  # raw | chat | markdown | truncated


def _diff_span(a: str, b: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """Character spans of the region where ``a`` and ``b`` differ (first to last differing character; empty where
    one twin only lacks text the other has)."""
    sm = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    ops = [op for op in sm.get_opcodes() if op[0] != "equal"]
    return (ops[0][1], ops[-1][2]), (ops[0][3], ops[-1][4])


def make_pair(rng: random.Random, cls: str, context: str) -> Sample:
    bad, good = render(rng, cls)
    if rng.random() < 0.6:  # ordinary code around the construct, identical in both twins
        pre, post = _helper(rng) + "\n\n", "\n\n" + _helper(rng)
        bad, good = pre + bad + post, pre + good + post
    if context == "truncated":  # cut a few lines after the construct (mid-function), as live traffic often is
        (s, e), (fs, fe) = _diff_span(bad, good)
        cut_bad = bad.find("\n", e)
        extra = rng.randint(0, 2)
        for _ in range(extra):
            nxt = bad.find("\n", cut_bad + 1)
            cut_bad = nxt if nxt != -1 else cut_bad
        tail = len(bad) - (cut_bad if cut_bad != -1 else len(bad))
        bad, good = bad[: len(bad) - tail], good[: len(good) - tail]
    if context in ("chat", "markdown"):
        ask = _pick(rng, CHAT_ASKS)
        fence = "```python\n" if context == "markdown" or rng.random() < 0.5 else ""
        end = "```\n" if fence else ""
        after = _pick(rng, ["", "Thanks!", "It runs but I am not sure it is right.", "Any suggestions?"])
        wrap = f"{ask}\n\n{fence}{{}}{end}\n{after}".strip() + "\n"
        bad, good = wrap.format(bad), wrap.format(good)
    span, fspan = _diff_span(bad, good)
    return Sample(cls, bad, good, span, fspan, context)


def generate(n_per_class: int, seed: int, contexts=("raw", "raw", "chat", "markdown", "truncated")) -> list[Sample]:
    rng = random.Random(seed)
    out = []
    for cls in CLASSES:
        for i in range(n_per_class):
            out.append(make_pair(rng, cls, contexts[i % len(contexts)]))
    return out


# -- hand-written pairs in the evaluation's contexts -------------------------------------------------------------
HANDWRITTEN_CONTEXTS = ("raw", "chat", "truncated", "prose")


def cut_after_diff(a: str, b: str) -> tuple[str, str]:
    """Both twins cut at the end of the line where their differing region ends."""
    ops = [op for op in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes() if op[0] != "equal"]
    ea, eb = ops[-1][2], ops[-1][4]
    ca, cb = a.find("\n", max(ea - 1, 0)), b.find("\n", max(eb - 1, 0))
    return a[: ca + 1 if ca != -1 else len(a)], b[: cb + 1 if cb != -1 else len(b)]


def wrap(code: str, context: str, ask: str, prose: tuple[str, str]) -> tuple[str, str]:
    """(text, model context) of one program in ``context`` (``truncated`` is applied to the pair beforehand):
    ``chat`` = a user message with the code fenced, ``prose`` = a markdown document around the fenced code (raw)."""
    if context == "chat":
        return f"{ask}\n\n```python\n{code}```\n", "chat"
    if context == "prose":
        return f"{prose[0]}\n\n```python\n{code}```\n\n{prose[1]}\n", "raw"
    return code, "raw"


def handwritten_rows(data) -> list[dict]:
    """Every program of a hand-written set module (``PAIRS``, ``CHAT_ASKS``, ``PROSE``) in every context: source
    text, model context, label, pair, class; wrappers rotate by pair index."""
    rows = []
    for i, (cls, bad, good) in enumerate(data.PAIRS):
        ask, prose = data.CHAT_ASKS[i % len(data.CHAT_ASKS)], data.PROSE[i % len(data.PROSE)]
        for ctx in HANDWRITTEN_CONTEXTS:
            b, g = cut_after_diff(bad, good) if ctx == "truncated" else (bad, good)
            for code, label in ((b, 1), (g, 0)):
                text, mctx = wrap(code, ctx, ask, prose)
                rows.append({"pair": i, "cls": cls, "context": ctx, "label": label, "source": text,
                             "model_context": mctx})
    return rows
