"""The unsafe-code pair generator and its token labels (the monitor's training signal)."""

from __future__ import annotations

import ast

import pytest

from steerlab.build.code_pairs import CLASSES, generate
from steerlab.build.unsafe_code_pairs import Program, best_f1_threshold, pair_accuracy, token_labels
from steerlab.eval.data.unsafe_code_heldout import PAIRS


@pytest.fixture(scope="module")
def samples():
    return generate(6, seed=0)


def test_every_class_yields_twins_that_differ_only_in_the_construct(samples):
    assert {s.cls for s in samples} == set(CLASSES)
    for s in samples:
        assert s.insecure != s.fixed
        a, b = s.span, s.fixed_span
        assert s.insecure[: a[0]] == s.fixed[: b[0]]  # the shared prefix
        assert s.insecure[a[1]:] == s.fixed[b[1]:]  # and the shared suffix
        if s.context == "raw":
            ast.parse(s.insecure)
            ast.parse(s.fixed)


def test_generation_is_seeded_and_never_reproduces_the_held_out_set(samples):
    assert [s.insecure for s in generate(6, seed=0)] == [s.insecure for s in samples]
    held = {p for _, bad, good in PAIRS for p in (bad, good)}
    assert not held & {t for s in generate(40, seed=0) for t in (s.insecure, s.fixed)}


def test_token_labels_mark_only_the_construct_after_the_shared_prefix():
    text = "x = 1\nos.system(cmd)\ny = 2\n"
    start = text.index("system")
    p = Program(text, 1, (start, text.index("\ny")), 0, "shell-injection", "raw")
    offsets = [(0, 0), (0, 1), (1, 5), (6, 8), (8, 9), (9, 15), (15, 20), (21, 26)]
    assert token_labels(p, offsets) == [None, 0, 0, 0, 0, 1, 1, None]
    fixed = Program(text, 0, None, 0, "shell-injection", "raw")
    assert token_labels(fixed, offsets) == [None] + [0] * 7


def test_pair_accuracy_and_best_f1_threshold():
    progs = [Program("", 1, (0, 1), 0, "c", "raw"), Program("", 0, None, 0, "c", "raw"),
             Program("", 1, (0, 1), 1, "c", "raw"), Program("", 0, None, 1, "c", "raw"),
             Program("", 0, None, None, "ordinary", "raw")]
    assert pair_accuracy(progs, [3.0, 1.0, 0.5, 2.0, 0.0]) == 0.5
    thr, p, r = best_f1_threshold([3.0, 1.0, 2.5, 0.5, 0.0], [1, 0, 1, 0, 0])
    assert 1.0 < thr < 2.5 and (p, r) == (1.0, 1.0)
