"""The concept report's verdicts without a model: the best point within a perplexity budget, and the comparison
with the prompting baseline (at least its named rate at no worse perplexity ratio and repetition)."""

from __future__ import annotations

import pytest

from steerlab.eval.concept import ConceptPoint, ConceptRun, markdown, repetition


def point(op: str, x: float, mention: float, named: float, ratio: float, rep: float) -> ConceptPoint:
    return ConceptPoint(op, x, mention, ratio, "", rep, x, [], named)


PROMPTED = ConceptRun("prompting", None, "none", [point("none", 0, 0.0, 0.0, 1.0, 0.0),
                                                   point("prompt", 0, 0.9, 0.85, 1.6, 0.05)])


def test_repetition_counts_repeated_trigrams():
    assert repetition("a b c d e") == 0.0
    assert repetition("a b c a b c") == 0.25  # 4 trigrams, one repeated


def test_a_steered_point_beats_prompting_only_at_no_worse_fluency():
    run = ConceptRun("golden-gate/bridge (layer 15)", 15, "all", [
        point("none", 0, 0.0, 0.0, 1.0, 0.0),
        point("add", 1.0, 0.95, 0.9, 1.8, 0.02),  # names it more often but costs more perplexity
        point("add", 0.5, 0.9, 0.85, 1.5, 0.04),  # as often, cheaper: beats prompting
    ])
    b = run.beats(PROMPTED.points[-1])
    assert b is not None and b.x == 0.5
    worse = ConceptRun("x", 15, "all", [point("none", 0, 0, 0, 1, 0), point("add", 1, 1.0, 0.8, 1.2, 0.01)])
    assert worse.beats(PROMPTED.points[-1]) is None  # named less often than prompting


def test_report_states_the_prompting_baseline_and_each_verdict():
    run = ConceptRun("golden-gate/bridge (layer 15)", 15, "prompt", [
        point("none", 0, 0.0, 0.0, 1.0, 0.0), point("add", 2.0, 0.9, 0.5, 1.7, 0.1)])
    md = markdown([PROMPTED, run], command="steer eval concept", n_prompts=20, pattern="bridge", png="c.png")
    assert "**prompting baseline** (system prompt, no steering): concept named in 85%" in md
    assert "golden-gate/bridge (layer 15), prompt only vs prompting: no strength names the concept" in md


def test_strengths_are_multiples_of_max_activation_or_the_default():
    from steerlab.eval.concept import _absolute

    assert _absolute(1.5, None, 2.0) == 3.0
    assert _absolute("default", "1.5x", 2.0) == 3.0
    assert _absolute("default", 0.7, 2.0) == 0.7  # a plain number is absolute already
    with pytest.raises(ValueError, match="default_value"):
        _absolute("default", None, 2.0)
