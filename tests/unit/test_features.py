"""Feature discovery: top contexts and contrastive search rank what they should, on constructed activations."""

from __future__ import annotations

import torch

from steerlab.build.features import auto_label, contrastive, markdown_report, top_contexts

D = 4


def identity(a: torch.Tensor) -> torch.Tensor:
    return a  # each residual dimension plays one feature


def test_top_contexts_ranks_highest_first_one_per_text_and_highlights_the_token():
    acts = [torch.zeros(5, D) for _ in range(4)]
    tokens = [[f"t{i}w{j} " for j in range(5)] for i in range(4)]
    for i, v in enumerate([1.0, 5.0, 3.0, 4.0]):
        acts[i][2, 0] = v
        acts[i][4, 0] = v / 2  # a second, weaker hit in the same text must not appear twice
    top = top_contexts(acts, tokens, identity, cols=[0], n_top=3, window=1)
    assert [c.value for c in top[0]] == [5.0, 4.0, 3.0]
    assert [c.text_index for c in top[0]] == [1, 3, 2]
    assert top[0][0].snippet == "t1w1 «t1w2 »t1w3 "
    assert auto_label(top[0]) == "t1w2, t3w2, t2w2"
    assert "| 5.000 |" in markdown_report(top, {0: "f0"})


def test_contrastive_finds_the_feature_that_separates_positives_from_negatives():
    g = torch.Generator().manual_seed(0)
    pos = [torch.rand(6, D, generator=g) for _ in range(10)]
    neg = [torch.rand(6, D, generator=g) for _ in range(10)]
    for a in pos:
        a[3, 2] += 5.0  # feature 2 fires on every positive text
    ranked = contrastive(pos, neg, identity, n=2)
    assert ranked[0][0] == 2 and ranked[0][1] == 1.0 and ranked[0][2] > ranked[0][3]


def test_top_contexts_leave_out_massive_activation_tokens():
    g = torch.Generator().manual_seed(0)
    acts = [torch.rand(6, D, generator=g) + 0.5 for _ in range(3)]
    tokens = [[f"t{i}w{j} " for j in range(6)] for i in range(3)]
    acts[0][1] = 1000.0  # a massive token: the largest value of every feature, and not what any feature is about
    acts[2][4, 0] = 8.0  # an ordinary token that really is the top of feature 0
    top = top_contexts(acts, tokens, identity, cols=[0, 1], n_top=3, window=0)
    assert top[0][0].value == 8.0 and all(c.value < 100 for cs in top.values() for c in cs)
    assert all((c.text_index, c.token_index) != (0, 1) for cs in top.values() for c in cs)
    kept = top_contexts(acts, tokens, identity, cols=[0], n_top=1, window=0, massive=None)
    assert kept[0][0].value == 1000.0  # massive=None keeps them
