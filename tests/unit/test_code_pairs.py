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


def test_handwritten_training_spans_cover_exactly_where_the_twins_differ():
    """Hand-written pairs as training programs (version 5): the insecure twin's construct is the region that differs
    from its fix, in every context (the chat template shifts it); text before it is shared by both twins."""
    from steerlab.build.unsafe_code_pairs import HANDWRITTEN_TRAIN, diff_span, handwritten_programs

    class Tok:  # the chat template's shape; only the offset of the user message matters here
        def apply_chat_template(self, messages, add_generation_prompt, tokenize):
            return f"<|im_start|>user\n{messages[0]['content']}<|im_end|>\n<|im_start|>assistant\n"

    assert diff_span("x = run(cmd, shell=True)\n", "x = run(cmd)\n") == (11, 23)
    for data in HANDWRITTEN_TRAIN.values():
        progs = handwritten_programs(Tok(), data, spans=True)
        assert len(progs) == 2 * 4 * len(data.PAIRS)
        for bad, good in zip(progs[::2], progs[1::2], strict=True):
            assert (bad.label, good.label, good.span, bad.pair) == (1, 0, None, good.pair)
            s, e = bad.span
            assert bad.text[:s] == good.text[:s] and bad.text[s : s + 1] != good.text[s : s + 1] and e >= s  # e == s: gap
            assert good.text.endswith(bad.text[e:]) and len(good.text) - len(bad.text[e:]) >= s  # the rest is shared
    assert handwritten_programs(Tok(), data)[0].span is None  # evaluation programs carry no span


def test_recall_threshold_prefers_precision_at_the_recall_floor():
    from steerlab.build.unsafe_code_pairs import recall_threshold

    scores, labels = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0, 1, 0, 1, 1, 1]
    t, p, r = recall_threshold(scores, labels, min_recall=0.75)
    assert 0.3 < t < 0.4 and (p, r) == (1.0, 0.75)
    t, p, r = recall_threshold(scores, labels, min_recall=0.85)
    assert 0.1 < t < 0.2 and (p, r) == (0.8, 1.0)
    assert recall_threshold([0.1, 0.2], [1, 0], min_recall=0.9) == best_f1_threshold([0.1, 0.2], [1, 0])


def test_training_and_reporting_sets_are_disjoint():
    """Version 5 trains on the 96 training pairs and sets A and C, selects on set D, reports on set E: no program of
    the reporting set is in a training or selection set."""
    from steerlab.build import unsafe_code_pairs as build
    from steerlab.eval.unsafe_code import SETS

    seen = {bad for d in [*build.HANDWRITTEN_TRAIN.values(), build.set_d] for _, bad, _ in d.PAIRS}
    assert SETS["e"].__name__ not in {d.__name__ for d in build.HANDWRITTEN_TRAIN.values()} | {build.set_d.__name__}
    assert not seen & {bad for _, bad, _ in SETS["e"].PAIRS}


HAND_WRITTEN = ("steerlab.build.unsafe_code_handwritten", "steerlab.eval.data.unsafe_code_heldout",
                "steerlab.eval.data.unsafe_code_heldout_c", "steerlab.eval.data.unsafe_code_heldout_d",
                "steerlab.eval.data.unsafe_code_heldout_e", "steerlab.eval.data.unsafe_code_heldout_f")


@pytest.mark.parametrize("module", HAND_WRITTEN)
def test_hand_written_sets_are_parsable_twins_of_known_classes(module):
    """Every hand-written pair set (training, selection or held out): known classes, twins that differ, sources that
    parse, wrappers for the chat and prose contexts, and no program shared with another set."""
    import importlib

    data = importlib.import_module(module)
    assert data.PAIRS and data.CHAT_ASKS and data.PROSE
    for cls, bad, good in data.PAIRS:
        assert cls in CLASSES and bad != good
        ast.parse(bad)
        ast.parse(good)
    others = {bad for m in HAND_WRITTEN if m != module for _, bad, _ in importlib.import_module(m).PAIRS}
    assert not {bad for _, bad, _ in data.PAIRS} & others
