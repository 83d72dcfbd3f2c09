"""The unsafe-code evaluation helpers: file splits with held-out sources, ROC points, bandit line matching."""

from __future__ import annotations

from steerlab.build.code_data import CodeFile
from steerlab.build.code_lines import split_files
from steerlab.eval.detection import LineSet, _binary, roc_points


def _files():
    return ([CodeFile("bandit-examples", f"b{i}.py", ["x = 1"], [0]) for i in range(10)]
            + [CodeFile("codeshield", f"c{i}.py", ["y = 2"], [1]) for i in range(3)])


def test_held_out_sources_never_reach_training_and_the_split_is_seeded():
    train, test, external = split_files(_files(), seed=0, holdout_sources=("codeshield",))
    assert {f.source for f in external} == {"codeshield"} and len(external) == 3
    assert not {f.name for f in train} & {f.name for f in test}
    assert all(f.source == "bandit-examples" for f in train + test) and len(train) == 7
    assert [f.name for f in split_files(_files(), seed=0, holdout_sources=("codeshield",))[0]] == [f.name for f in train]
    train_all, test_all, none = split_files(_files(), seed=0)
    assert none == [] and len(train_all) + len(test_all) == 13


def test_roc_points_and_bandit_matching():
    fpr, tpr = roc_points([0.9, 0.8, 0.1, 0.05], [1, 0, 1, 0])
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert tpr[1] == 0.5 and fpr[2] == 0.5
    ls = LineSet("s", [("a.py", 3), ("a.py", 4), ("b.py", 1)], [0.0, 0.0, 0.0], [1, 0, 1])
    pred = ls.bandit({"a.py": {3, 4}})
    assert pred == [1, 1, 0]
    m = _binary(pred, ls.labels)
    assert (m["precision"], m["recall"], m["fpr"], m["flagged"]) == (0.5, 0.5, 1.0, 2)
