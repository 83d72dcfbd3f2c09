"""Class-neutral restyling of scope build questions (steerlab/build/restyle.py)."""

from __future__ import annotations

import random
import re

from steerlab.build.restyle import ASKS, CLOSERS, CONTEXT, OPENERS, restyle, restyled
from steerlab.build.scope_data import Question
from steerlab.eval.data import scope_heldout_b

QS = [q for i in range(50) for q in (Question(f"What are the symptoms of measles in {i} patients?", "healthsearchqa", True),
                                      Question(f"Who wrote the novel Moby Dick in {1800 + i}?", "nq-open", False))]


def test_restyle_is_seeded_and_always_changes_the_text():
    a = [restyle(q.text, random.Random(i)) for i, q in enumerate(QS)]
    b = [restyle(q.text, random.Random(i)) for i, q in enumerate(QS)]
    assert a == b
    assert all(x != q.text for x, q in zip(a, QS, strict=True))


def test_restyled_keeps_labels_and_sources_and_touches_both_classes_alike():
    out = restyled(QS, 0.5, seed="t")
    assert [(q.source, q.in_scope) for q in out] == [(q.source, q.in_scope) for q in QS]
    changed = [q.in_scope for q, o in zip(QS, out, strict=True) if q.text != o.text]
    assert 30 <= len(changed) <= 70
    assert restyled(QS[:10], 0.5, seed="t") == out[:10]  # a question's draw does not depend on the others
    assert 0 < sum(changed) < len(changed)  # both classes restyled
    assert restyled(QS, 0.0, seed="t") == QS


def test_content_words_survive_bar_one_typo():
    """An edit never drops a topic word: of the original's words of 5+ letters at most one is altered (the typo)."""
    rng = random.Random(1)
    for q in QS[:40]:
        new = restyle(q.text, rng).lower()
        words = re.findall(r"[a-z]{5,}", q.text.lower())
        assert sum(w not in new for w in words) <= 1


def test_no_phrase_is_taken_from_the_held_out_set():
    """Phrases of three words or more (two-word ones such as "Tell me" are plain English, not a copied phrase)."""
    held = " ".join(scope_heldout_b.IN_SCOPE + scope_heldout_b.OFF_SCOPE).lower()
    phrases = [*OPENERS, *CONTEXT, *CLOSERS, *(a.replace("{q}", "").strip() for a in ASKS)]
    assert [p for p in phrases if len(p.split()) >= 3 and p.lower().rstrip(".!:") in held] == []
