"""Class-neutral rephrasing of build questions: casual, typo'd, wrapped in greetings or context sentences.

The packaged question sets differ in *style* as well as topic: HealthSearchQA and MedicationQA are terse search
queries, chatterbot's off-scope openers are chit-chat ("Hello", "how are you"). A probe fitted on them learns part of
that style, so a health request typed casually ("hey so ive had a headache...") looks off-scope to it (set A:
27.5% of in-scope requests flagged). :func:`restyle` applies the same random surface edits to a share of *both*
classes' training and calibration questions, so style carries no label; the topic words are kept (an edit never
adds or removes a content word). The held-out sets are never restyled, and the phrases below were written for
this module, not copied from any held-out set.

>>> import random
>>> restyle("What is the normal dose of aspirin?", random.Random(3))
'whats the normal dose of aspirin? Any help appreciated.'
"""

from __future__ import annotations

import random
import re
from dataclasses import replace

from steerlab.build.scope_data import Question

OPENERS = ("hey", "hello,", "hi,", "ok so", "so", "yo", "Good morning!", "Hello, hope you are well.", "quick one -",
           "question for you:", "Sorry if this is a dumb question, but", "Hi there, I need some help.", "um,",
           "Can I ask you something?", "Random thought:")
CONTEXT = ("I was wondering about this today.", "My friend asked me and I didn't know.", "Settle an argument for us.",
           "I've been curious about this for a while.", "I tried searching but got confused.",
           "I need to know for something I'm doing this week.", "Asking for a family member.",
           "This came up at dinner yesterday.")
ASKS = ("Can you tell me: {q}", "Please answer this: {q}", "I'd like to know {q}", "Help me understand this: {q}",
        "Do you know {q}", "Tell me {q}", "I have a question. {q}")
CLOSERS = ("thanks!", "thx", "Any help appreciated.", "Thanks in advance.", "pls", "cheers", "ty", "Be brief please.",
           "Explain it simply.")
TEXTING = ((r"\byou\b", "u"), (r"\bare\b", "r"), (r"\bplease\b", "pls"), (r"\bwhat is\b", "whats"),
           (r"\bI have\b", "ive"), (r"\bdon't\b", "dont"), (r"\bcan't\b", "cant"), (r"\bbecause\b", "cuz"),
           (r"\bI am\b", "im"), (r"\bwhat's\b", "whats"))


def _typo(text: str, rng: random.Random) -> str:
    """One typo in a random word of 4+ letters: two neighbouring letters swapped, or one letter doubled/dropped."""
    words = [m for m in re.finditer(r"[A-Za-z]{4,}", text)]
    if not words:
        return text
    m = rng.choice(words)
    w = m.group()
    i = rng.randrange(1, len(w) - 1)
    kind = rng.choice(("swap", "double", "drop"))
    w2 = (w[:i] + w[i + 1] + w[i] + w[i + 2:] if kind == "swap" else
          w[:i] + w[i] + w[i:] if kind == "double" else w[:i] + w[i + 1:])
    return text[: m.start()] + w2 + text[m.end():]


def _lower_first(q: str) -> str:
    return q[:1].lower() + q[1:] if q[:2] != q[:2].upper() else q


def restyle(text: str, rng: random.Random) -> str:
    """One casual rephrasing of ``text`` (each edit drawn independently; at least one applied)."""
    q = text
    while q == text:
        if rng.random() < 0.3:
            for pat, rep in TEXTING:
                if rng.random() < 0.7:
                    q = re.sub(pat, rep, q, flags=re.IGNORECASE)
        if rng.random() < 0.3:
            q = _typo(q, rng)
        if rng.random() < 0.25:
            q = rng.choice(ASKS).format(q=_lower_first(q))
        if rng.random() < 0.2:
            q = f"{rng.choice(CONTEXT)} {q}"
        if rng.random() < 0.4:
            q = f"{rng.choice(OPENERS)} {_lower_first(q)}"
        if rng.random() < 0.25:
            q = f"{q} {rng.choice(CLOSERS)}"
        if rng.random() < 0.4:
            q = q.lower()
        if rng.random() < 0.4:
            q = q.rstrip("?.!")
    return q


def restyled(questions: list[Question], share: float, seed: str) -> list[Question]:
    """``questions`` with a seeded ``share`` of them (of either class alike) replaced by a :func:`restyle` of it. Each
    question's draw is seeded by its own text, so it does not depend on which other questions are in the list."""
    out = []
    for q in questions:
        rng = random.Random(f"{seed}-{q.text}")
        out.append(replace(q, text=restyle(q.text, rng)) if rng.random() < share else q)
    return out
