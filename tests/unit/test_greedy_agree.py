"""The cross-engine comparison the e2e and vLLM tiers use (tests/e2e/conftest.py: assert_greedy_agree): runs may
part only at a near-tie, and there only where their top-two candidates share a token at the same logprob."""

from __future__ import annotations

import pytest

from server.engines.base import TokenLogprob
from tests.e2e.conftest import Run, assert_greedy_agree


def run(steps: list[tuple[str, float, str, float]]) -> Run:
    """(chosen, its logprob, runner-up, its logprob) per step → a Run with token ids taken from the texts."""
    trace = [TokenLogprob(t, lp, [(t, lp), (u, lu)]) for t, lp, u, lu in steps]
    return Run("".join(s[0] for s in steps), [hash(s[0]) for s in steps], [s[1] for s in steps], "length", None,
               trace)


A = [(" The", -0.2, " A", -2.0), (" Golden", -0.5, " big", -1.9), (" Gate", -0.70, ",", -0.74)]


def test_same_decode_agrees_over_its_whole_length():
    b = [(t, lp + 0.01, u, lu) for t, lp, u, lu in A]
    assert assert_greedy_agree(run(A), run(b)) == 3


def test_runs_may_part_at_a_near_tie_between_the_same_two_tokens():
    b = [*A[:2], (",", -0.71, " Gate", -0.73)]
    assert assert_greedy_agree(run(A), run(b)) == 2


def test_parting_without_a_near_tie_fails():
    b = [A[0], (" big", -0.5, " Golden", -1.9), A[2]]
    with pytest.raises(AssertionError, match="without a near-tie"):
        assert_greedy_agree(run(A), run(b))


def test_a_three_way_near_tie_may_list_another_runner_up():
    b = [*A[:2], (",", -0.71, " Bridge", -0.72)]  # shares "," (at the same logprob) with A's top two
    assert assert_greedy_agree(run(A), run(b)) == 2


def test_parting_between_other_candidates_fails():
    b = [*A[:2], (" Bridge", -0.71, " Tower", -0.73)]
    with pytest.raises(AssertionError, match="different candidates"):
        assert_greedy_agree(run(A), run(b))


def test_a_shared_candidate_at_another_logprob_fails():
    b = [*A[:2], (",", -0.60, " Bridge", -0.65)]
    with pytest.raises(AssertionError, match="different candidates"):
        assert_greedy_agree(run(A), run(b))


def test_logprobs_further_apart_than_the_tolerance_fail():
    b = [A[0], (" Golden", -0.9, " big", -1.9), A[2]]
    with pytest.raises(AssertionError):
        assert_greedy_agree(run(A), run(b))
