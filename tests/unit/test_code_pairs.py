"""The unsafe-code pair generator and its token labels (the monitor's training signal)."""

from __future__ import annotations

import ast

import pytest
import torch

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
    """Hand-written pairs as training programs (since version 5): the insecure twin's construct is the region that differs
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
    """Version 7 trains (and cross-validates) on the 96 training pairs and sets A, C, D, E and F, and reports on set G:
    no program of the reporting set is in a training set, and the evaluation's default is that set."""
    import inspect

    from steerlab.build import unsafe_code_pairs as build
    from steerlab.eval.unsafe_code import SETS, evaluate_unsafe_code

    reported = inspect.signature(evaluate_unsafe_code).parameters["set_name"].default
    seen = {bad for d in build.HANDWRITTEN_TRAIN.values() for _, bad, _ in d.PAIRS}
    assert SETS[reported].__name__ not in {d.__name__ for d in build.HANDWRITTEN_TRAIN.values()}
    assert not seen & {bad for _, bad, _ in SETS[reported].PAIRS}


HAND_WRITTEN = ("steerlab.build.unsafe_code_handwritten", "steerlab.eval.data.unsafe_code_heldout",
                "steerlab.eval.data.unsafe_code_heldout_c", "steerlab.eval.data.unsafe_code_heldout_d",
                "steerlab.eval.data.unsafe_code_heldout_e", "steerlab.eval.data.unsafe_code_heldout_f",
                "steerlab.eval.data.unsafe_code_heldout_g", "steerlab.eval.data.unsafe_code_heldout_h")


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


def test_cross_validation_scores_each_set_left_out_by_a_probe_fit_on_the_others():
    """Leave-one-set-out (version 6): a direction present only on construct tokens is found from the other sets and
    separates every left-out set's twins; each fold has its own recall threshold and the means are reported."""
    from steerlab.build.unsafe_code_pairs import cross_validate

    gen, offsets = torch.Generator().manual_seed(0), [(0, 0), (0, 1), (1, 2), (2, 3)]

    def pair(i: int):
        base = torch.randn(4, 8, generator=gen)
        bad = base.clone()
        bad[2, 0] += 4.0  # the construct token carries the direction; the shared token 1 does not
        return ([Program("abc", 1, (1, 2), i, "x", "raw"), Program("abd", 0, None, i, "x", "raw")],
                [({5: bad}, offsets), ({5: base}, offsets)])

    folds, acts = {}, {}
    for name in ("a", "b", "c"):
        rows = [pair(i) for i in range(6)]
        folds[name] = [p for progs, _ in rows for p in progs]
        acts[name] = [a for _, a in rows for a in a]
    plain = [Program("o", 0, None, None, "ordinary", "raw")]
    acts_plain = [({5: torch.randn(4, 8, generator=gen)}, offsets)]
    r = cross_validate(folds, acts, plain, acts_plain, acts_plain, 5, seed=0, l2=1e-3)
    assert set(r["folds"]) == {"a", "b", "c"} and r["layer"] == 5
    assert all(f["auroc"] == 1.0 and f["pair_acc"] == 1.0 and f["recall"] >= 0.85 for f in r["folds"].values())
    assert r["threshold"] == pytest.approx(sum(f["threshold"] for f in r["folds"].values()) / 3)


def test_layers_side_by_side_make_one_probe_over_several_layers():
    """A multi-layer candidate concatenates each program's residuals at its layers; a logit on them is the sum of
    per-layer logits, what the summed read-out serves."""
    from steerlab.build.unsafe_code_pairs import side_by_side

    a = {12: torch.randn(5, 4), 18: torch.randn(5, 4)}
    (got, offs), = side_by_side([(a, [(0, 1)] * 5)], (12, 18))
    assert list(got) == ["12+18"] and got["12+18"].shape == (5, 8) and offs == [(0, 1)] * 5
    w12, w18 = torch.randn(4), torch.randn(4)
    torch.testing.assert_close(got["12+18"] @ torch.cat([w12, w18]), a[12] @ w12 + a[18] @ w18)


def test_a_probe_over_several_layers_is_served_as_their_sum(tmp_path):
    """The build's pack for a multi-layer candidate (``probe_sites``): its monitor reading through the runtime and the
    evaluation's scoring both equal the probe on the layers' residuals side by side, ``[h_12, h_18]·w + b``."""
    from steering.pack import ModelInfo, save_pack
    from steering.runtime import SteeringRuntime
    from steerlab.build.unsafe_code_pairs import probe_sites, side_by_side
    from steerlab.eval.unsafe_code import logits, read_sites

    d, layers = 8, (1, 3)
    g = torch.Generator().manual_seed(0)
    w, b = torch.randn(2 * d, generator=g), 0.3
    info = ModelInfo(name="tiny", architecture="LlamaForCausalLM", d_model=d, num_layers=4)
    where = probe_sites(layers, w, b, d)
    tensors = where.pop("tensors")
    manifest = {"id": "code", "version": "1", "title": "t", "model": info.model_dump(), "encoder": {"kind": "probe"},
                "features": [{"name": "python", "index": 0, "label": "x", "max_activation": 1.0, "threshold": 0.0}]}
    pack = save_pack(tmp_path / "code", manifest | where, tensors)
    acts = {1: torch.randn(5, d, generator=g), 3: torch.randn(5, d, generator=g)}
    want = side_by_side([(acts, None)], layers)[0][0]["1+3"] @ w + b
    torch.testing.assert_close(logits(acts, read_sites(pack)), want, rtol=1e-5, atol=1e-5)
    rt = SteeringRuntime([pack], d)
    r = rt.rows.acquire({("code", "python"): ("monitor", 0.0)})
    rt.batch.row, rt.batch.rows_present = torch.full((5,), r), {r}
    rt.batch.slot, rt.batch.pos, rt.batch.keep_tokens = torch.zeros(5, dtype=torch.long), torch.arange(5), True
    for layer in layers:
        rt.apply_site(layer, acts[layer])
    seen = rt.batch.readouts[-1].tokens[0][:, rt.column(("code", "python")).col]
    torch.testing.assert_close(seen, want, rtol=1e-5, atol=1e-5)
