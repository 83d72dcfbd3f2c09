"""The scope pack's pieces without a real model: data split, threshold calibration, max-pooled probe, pack round
trip through the runtime and the policy profile, and the report arithmetic with a stand-in engine."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from server.policy import load_policy
from server.steering_service import CompiledPolicy, resolve_request
from steering.monitor import RequestMonitor
from steering.pack import load_pack
from steering.runtime import BatchState, SteeringRuntime
from steerlab.build.chat import shared_prefix
from steerlab.build.scope_data import load_questions, mentions_health, split
from steerlab.build.scope_pack import (
    FEATURE,
    PACK_ID,
    Acts,
    Candidate,
    calibrate_threshold,
    fit_max_pooled,
    fit_tokens,
    rate_over,
    save_scope_pack,
)
from steerlab.eval.scope import Outcome, ScopeReport, monitor_requests, summary_table
from steerlab.metrics import auroc
from tests.conftest import TINY

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "scope-health.yaml"


@pytest.mark.parametrize("fpr", [0.01, 0.03, 0.05, 0.10])
def test_threshold_at_the_requested_false_positive_rate(fpr):
    s = torch.randn(2000, generator=torch.Generator().manual_seed(1))
    thr = calibrate_threshold(s, fpr)
    assert rate_over(s, thr) <= fpr  # never more than asked (the monitor fires on a > threshold)
    assert rate_over(s, thr) >= fpr - 1 / len(s)  # and the lowest such threshold
    assert thr in s.tolist()


def test_threshold_with_ties_stays_under_the_target():
    s = torch.tensor([0.0] * 90 + [1.0] * 10)
    assert rate_over(s, calibrate_threshold(s, 0.05)) <= 0.05


def synthetic_bags(n: int = 400, d: int = 16, seed: int = 0) -> tuple[Acts, torch.Tensor, torch.Tensor]:
    """Bags of 3-8 noise tokens; an off-scope bag (label 1) has ONE token shifted along a hidden direction, so only
    the max over the bag can see it. A shared 'template prefix' of 4 tokens sits in every bag."""
    fixed = torch.Generator().manual_seed(0)  # the same direction and prefix in every sample
    u = torch.nn.functional.normalize(torch.randn(d, generator=fixed), dim=0)
    prefix = torch.randn(4, d, generator=fixed)
    g = torch.Generator().manual_seed(seed + 1)
    toks, bags, y = [], [], []
    for i in range(n):
        t = torch.randn(int(torch.randint(3, 9, (1,), generator=g)), d, generator=g)
        lab = i % 2
        if lab:
            t[int(torch.randint(0, len(t), (1,), generator=g))] += 4 * u
        toks.append(t)
        bags.append(torch.full((len(t),), i))
        y.append(lab)
    return Acts(prefix, torch.cat(toks), torch.cat(bags)), torch.tensor(y), u


def test_bag_max_is_the_max_over_prefix_and_tokens():
    acts, y, _ = synthetic_bags(20)
    w, b = torch.randn(16), 0.3
    got = acts.bag_max(w, b, len(y))
    pre = float((acts.prefix @ w + b).max())
    for i in range(len(y)):
        want = max(pre, float((acts.tokens[acts.bag == i] @ w + b).max()))
        assert got[i].item() == pytest.approx(want, abs=1e-5)


def test_max_pooled_probe_separates_bags_by_their_max():
    acts, y, u = synthetic_bags()
    test, yt, _ = synthetic_bags(seed=1)
    w0, b0 = fit_tokens(acts, y)
    w, b = fit_max_pooled(acts, y, steps=200, init=(w0, b0))
    s = test.bag_max(w, b, len(yt))
    assert auroc(s.tolist(), yt.tolist()) > 0.95
    assert torch.nn.functional.cosine_similarity(w, u, dim=0) > 0.5


def test_threshold_holds_the_target_rate_in_each_register():
    """Version 5: hand-written calibration requests score higher than the many packaged ones; the threshold keeps at
    most the target rate of in-scope requests over it in *each* register, so the packaged majority cannot hide the
    hand-written register's false alarms."""
    from steerlab.build.scope_pack import measure

    g = torch.Generator().manual_seed(0)
    n_pack, n_hand = 400, 40
    y = torch.tensor([0, 1] * ((n_pack + n_hand) // 2))
    hand = torch.arange(len(y)) >= n_pack
    x = torch.randn(len(y), 1, generator=g) + 3.0 * y[:, None] + 1.5 * hand[:, None]  # the hand-written shift
    acts = Acts(torch.zeros(0, 1), x, torch.arange(len(y)), prompt_end=torch.arange(len(y)))
    w = torch.ones(1)
    pooled = measure(9, "last", w, 0.0, acts, y, acts, y, 0.05)
    per = measure(9, "last", w, 0.0, acts, y, acts, y, 0.05, hand)
    in_hand = x[(y == 0) & hand, 0]
    assert rate_over(in_hand, pooled.threshold) > 0.05 >= rate_over(in_hand, per.threshold)
    assert rate_over(x[(y == 0) & ~hand, 0], per.threshold) <= 0.05 and per.threshold > pooled.threshold
    assert per.row()["calib_handwritten_in_scope_fired"] == round(rate_over(in_hand, per.threshold), 4)


def test_weighted_fit_learns_the_minority_register():
    """Version 6: a few hand-written requests whose label sits on another direction than the packaged majority's are
    misread by an unweighted probe and read correctly once weighted; equal weights within a class change nothing."""
    from steerlab.metrics import fit_logistic

    g = torch.Generator().manual_seed(0)
    n, m = 400, 20
    y = torch.tensor([1, 0] * ((n + m) // 2))
    hand = torch.arange(n + m) >= n
    sign = y * 2 - 1
    X = torch.randn(n + m, 2, generator=g) * 0.3
    X[:, 0] += torch.where(hand, -sign, sign).float()  # the packaged direction, reversed for the hand-written ones
    X[:, 1] += torch.where(hand, sign, 0).float()  # which carry their label on the other direction
    acc = {}
    for wgt in (1.0, 50.0):
        sw = torch.where(hand, wgt, 1.0)
        w, b = fit_logistic(X[y == 1], X[y == 0], wp=sw[y == 1], wn=sw[y == 0])
        acc[wgt] = float(((X[hand] @ w + b > 0).long() == y[hand]).float().mean())
    assert acc[1.0] < 0.8 and acc[50.0] == 1.0
    w0, b0 = fit_logistic(X[y == 1], X[y == 0])
    w1, b1 = fit_logistic(X[y == 1], X[y == 0], wp=torch.full((int((y == 1).sum()),), 3.0))
    torch.testing.assert_close(w0, w1)
    assert b0 == pytest.approx(b1)


def test_selection_counts_both_registers_equally():
    """Version 6: with hand-written calibration requests, the candidate with the best mean of the packaged and the
    hand-written deflection ships, not the one the (many) packaged questions favour."""
    from steerlab.build.scope_pack import best

    def cand(name, packaged, hand):
        return Candidate(15, name, torch.zeros(1), 0.0, 0.0, 0.9, packaged, 0.03, 0.9,
                         {"calib_packaged_deflection": packaged, "calib_handwritten_deflection": hand})

    assert best([cand("packaged", 0.95, 0.60), cand("both", 0.90, 0.80)]).method == "both"
    plain = [Candidate(15, m, torch.zeros(1), 0.0, 0.0, 0.9, d, 0.03, 0.9) for m, d in (("a", 0.9), ("b", 0.8))]
    assert best(plain).method == "a"


def test_shared_prefix():
    assert shared_prefix([[1, 2, 3, 4], [1, 2, 5], [1, 2, 3]]) == 2
    assert shared_prefix([[7, 8], [7, 8, 9]]) == 2


def test_pack_round_trip_runtime_activation_and_monitor(tmp_path):
    g = torch.Generator().manual_seed(0)
    w, b = torch.randn(TINY.d_model, generator=g), -0.25
    c = Candidate(layer=2, method="max", w=w, b=b, threshold=1.5, calib_auroc=0.9, calib_deflection=0.8,
                  calib_in_scope_fired=0.05, train_auroc=0.95)
    save_scope_pack(tmp_path / PACK_ID, TINY, c, 3.0, {"corpus": "synthetic", "command": "test"})
    pack = load_pack(tmp_path / PACK_ID)
    f = pack.manifest.feature(FEATURE)
    assert (pack.manifest.encoder.kind, f.default_op, f.action, f.threshold) == ("probe", "monitor", "block", 1.5)
    rt = SteeringRuntime([pack], TINY.d_model, max_slots=4)
    h = torch.randn(5, TINY.d_model, generator=g)
    site = rt.sites[2]
    torch.testing.assert_close(site.activation(h)[:, 0], h @ w + b)
    assert float(pack.W_dec[0] @ pack.W_enc[:, 0]) == pytest.approx(1.0, abs=1e-5)  # clamp moves the logit itself
    # the monitor: max over positions ≥ 1 of the logit, fires when > threshold
    ref = (PACK_ID, FEATURE)
    row = rt.rows.acquire({ref: ("monitor", f.threshold)})
    logits = h @ w + b
    rt.batch = BatchState(row=torch.tensor([0] + [row] * 4), slot=torch.tensor([4, 0, 0, 0, 0]),
                          pos=torch.arange(5), rows_present={0, row})
    rt.apply_site(2, h)
    mon = RequestMonitor({ref: rt.column(ref)})
    mon.update(rt.batch.readouts, 0, "prompt")
    rd = mon.readings[ref]
    assert rd.prompt_max == pytest.approx(float(logits[1:].max()), abs=1e-5)
    assert rd.fired == bool(logits[1:].max() > 1.5)


def test_example_policy_profile_blocks_on_the_topics_monitor(tmp_path):
    c = Candidate(2, "max", torch.ones(TINY.d_model), 0.0, 1.0, 0.9, 0.8, 0.05, 0.9)
    pack = save_scope_pack(tmp_path / PACK_ID, TINY, c, 3.0, {"corpus": "synthetic", "command": "test"})
    rt = SteeringRuntime([pack], TINY.d_model)
    policy = CompiledPolicy.from_config(load_policy(EXAMPLE), rt)
    rs = resolve_request(rt, policy, None, "health-assistant", None)
    assert rs.config == {(PACK_ID, FEATURE): ("monitor", rt.column((PACK_ID, FEATURE)).threshold)}
    assert rs.block_on == frozenset({(PACK_ID, FEATURE)})
    assert resolve_request(rt, policy, None, None, None).config == {}  # without the profile: nothing watched


def test_health_word_filter():
    assert mentions_health("What causes a sore throat and fever?")
    assert mentions_health("Who discovered penicillin?")
    assert not mentions_health("Who won the world cup in 2014?")
    assert not mentions_health("When was the earliest earthquake recorded?")  # 'ear' is a whole word only


def test_questions_deduplicated_filtered_and_split_disjointly():
    sources = {"healthsearchqa": [f"Is condition {i} serious?" for i in range(100)] + ["Is condition 1 serious"],
               "nq-open": [f"Who won match {i}?" for i in range(80)] + ["Who discovered insulin?"],
               "chatterbot": ["Hello", "hello", "tell me a joke"], "truthfulqa": ["Is the earth flat?"]}
    qs, dropped = load_questions(sources)
    assert len(qs["healthsearchqa"]) == 100 and dropped["healthsearchqa"]["duplicates"] == 1
    assert dropped["nq-open"]["mention_health"] == 1 and len(qs["nq-open"]) == 80
    assert [q.text for q in qs["chatterbot"]] == ["Hello.", "Tell me a joke."]  # one surface shape for all
    s1, s2 = split(qs, seed=0), split(qs, seed=0)
    assert s1 == s2  # deterministic
    texts = {k: {q.text for q in v} for k, v in s1.items()}
    assert not (texts["test"] & (texts["train"] | texts["calib"]))
    assert {q.source for q in s1["test"]} >= {"truthfulqa"} and "truthfulqa" not in {q.source for q in s1["train"]}
    assert len([q for q in s1["train"] if q.source == "healthsearchqa"]) == 50


def tiny_llama():
    from transformers import AutoModelForCausalLM, LlamaConfig

    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=TINY.d_model, intermediate_size=32, num_hidden_layers=TINY.num_layers,
                      num_attention_heads=2, num_key_value_heads=1, vocab_size=64)
    return AutoModelForCausalLM.from_config(cfg).eval()


SEQS = [[1, 5, 7, 9, 11, 2, 3], [1, 5, 8], [1, 6, 6, 6, 6, 6, 6, 6, 6, 4]]  # prompt, then answer tokens
PROMPT_LENS = [4, 3, 6]


def probe_logits(model, seed: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A random probe ``w`` and, per sequence of :data:`SEQS`, ``h·w`` after layer 2 at every position."""
    w = torch.randn(TINY.d_model, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return w, [model(torch.tensor([s]), output_hidden_states=True).hidden_states[3][0] @ w for s in SEQS]


def test_runtime_monitor_per_request_matches_the_logits_and_phases(tmp_path):
    """monitor_requests (the eval's path: hook + table + RequestMonitor, padded batch) gives each request the max
    of h·w + b over its prompt tokens but position 0, over its answer tokens, and the first token over threshold."""
    model = tiny_llama()
    w, logits = probe_logits(model, 3)
    seqs, prompt_lens = SEQS, PROMPT_LENS
    thr = float(torch.cat([x[1:] for x in logits]).median())
    c = Candidate(2, "max", w, 0.0, thr, 0.9, 0.8, 0.05, 0.9)
    pack = save_scope_pack(tmp_path / PACK_ID, TINY, c, 3.0, {"corpus": "synthetic", "command": "test"})
    rt = SteeringRuntime([pack], TINY.d_model, max_slots=4)
    ref = (PACK_ID, FEATURE)
    out = monitor_requests(model, rt, {ref: ("monitor", thr)}, frozenset({ref}), seqs, prompt_lens, batch=2)
    for (summary, first, phase), lg, p in zip(out, logits, prompt_lens, strict=True):
        m = summary["topics/off-scope"]
        assert m["prompt_max"] == pytest.approx(float(lg[1:p].max()), abs=1e-4)
        want_c = float(lg[p:].max()) if len(lg) > p else None
        assert m["completion_max"] == (pytest.approx(want_c, abs=1e-4) if want_c is not None else None)
        over = [i for i in range(1, len(lg)) if lg[i] > thr]
        assert first == (over[0] if over else None)
        assert phase == (None if not over else "prompt" if over[0] < p else "completion")
    assert rt.rows.in_use() == 0 and rt.batch.row is None


def test_report_arithmetic():
    def o(text, source, in_scope, finish, n, pm, cm=None):
        return Outcome(text, source, in_scope, finish, n, pm, cm)

    outcomes = [o(f"x-{i}", "nq-open", False, "content_filter", 0, 2.0) for i in range(8)]
    outcomes += [o("plain", "nq-open", False, "stop", 0, 0.5), o("plain2", "chatterbot", False, "stop", 0, 0.4)]
    outcomes += [o(f"in-{i}", "healthsearchqa", True, "stop", 5, 0.1, 0.2) for i in range(9)]
    outcomes += [o("in-cut", "healthsearchqa", True, "content_filter", 3, 0.1, 1.7)]
    r = ScopeReport("topics/off-scope", 1.0, 2, "p", 8, outcomes)
    assert r.deflection() == 0.8 and r.deflection("nq-open") == 8 / 9 and r.deflection("chatterbot") == 0.0
    assert r.preservation() == 0.9 and r.blocked_in_answer() == 1
    assert not r.goal_met()  # 90% preservation < 95%
    stats = [x.stat for x in r.outcomes]
    assert max(stats) == 2.0 and min(stats) == 0.2 and not any(math.isinf(s) for s in stats)
    assert "| **off-scope deflected at the prompt** (goal ≥ 80%) | 10 | **80.0%** |" in summary_table(r)
    r.engine_check = [{"question": "q", "in_scope": True, "runtime_blocked": False, "engine_blocked": False,
                       "same_text": True}, {"question": "x", "in_scope": False, "runtime_blocked": True,
                                            "engine_blocked": True, "same_text": None}]
    assert r.engine_agreement() == (2, 2) and r.unchanged() == (1, 1)


def test_every_source_gets_one_surface_shape():
    from steerlab.build.scope_data import shape

    assert shape("how reduce cholesterol") == "How reduce cholesterol?"
    assert shape("who won the world cup in 2014") == "Who won the world cup in 2014?"
    assert shape("show me omeprazole") == "Show me omeprazole."
    assert shape("Is cancer of the eye curable?") == "Is cancer of the eye curable?"


def test_a_last_token_probe_is_read_at_the_last_prompt_token_only(tmp_path):
    """Method ``last``: the pack says ``read_at: last_prompt_token`` and the eval's path (hook + table +
    RequestMonitor) reads each request at its prompt's last token only, never its answer; the build's
    :meth:`Acts.statistic` picks the same token of each bag."""
    model = tiny_llama()
    w, logits = probe_logits(model, 4)
    seqs, prompt_lens = SEQS, PROMPT_LENS
    thr = float(torch.stack([lg[p - 1] for lg, p in zip(logits, prompt_lens, strict=True)]).median())
    c = Candidate(2, "last", w, 0.0, thr, 0.9, 0.8, 0.05, 0.9)
    pack = save_scope_pack(tmp_path / PACK_ID, TINY, c, 3.0, {"corpus": "synthetic", "command": "test"})
    assert pack.manifest.feature(FEATURE).read_at == "last_prompt_token"
    rt = SteeringRuntime([pack], TINY.d_model, max_slots=4)
    ref = (PACK_ID, FEATURE)
    out = monitor_requests(model, rt, {ref: ("monitor", thr)}, frozenset({ref}), seqs, prompt_lens, batch=2)
    for (summary, first, _), lg, p in zip(out, logits, prompt_lens, strict=True):
        m = summary["topics/off-scope"]
        assert m["prompt_max"] == pytest.approx(float(lg[p - 1]), abs=1e-4) and m["completion_max"] is None
        assert first == (p - 1 if lg[p - 1] > thr else None)
    # the build's statistic: bags hold tokens from position 1 on; prompt_end indexes each bag's last prompt token
    hs = [h for s in seqs for h in model(torch.tensor([s]), output_hidden_states=True).hidden_states[3][0, 1:]]
    bag = torch.cat([torch.full((len(s) - 1,), i) for i, s in enumerate(seqs)])
    starts = torch.tensor([0, 6, 8])
    acts = Acts(torch.zeros(0, TINY.d_model), torch.stack(hs).detach(), bag, starts + torch.tensor(prompt_lens) - 2)
    got = acts.statistic(w, 0.0, 3, "last")
    assert got.tolist() == pytest.approx([float(lg[p - 1]) for lg, p in zip(logits, prompt_lens, strict=True)], abs=1e-4)


def test_handwritten_training_requests_never_include_the_held_out_set():
    """Scope version 6 trains on hand-written sets A-E and calibrates on set F; set G, what the cards report, is
    neither, and is what the deflection evaluation reads by default."""
    from steerlab.build.scope_data import handwritten_requests
    from steerlab.eval.scope_server import (
        CALIBRATION_SETS,
        HANDWRITTEN_SETS,
        HELDOUT_SET,
        TRAINING_SETS,
        handwritten_questions,
    )

    assert HELDOUT_SET not in TRAINING_SETS + CALIBRATION_SETS and not set(TRAINING_SETS) & set(CALIBRATION_SETS)
    assert handwritten_questions() == handwritten_questions(HELDOUT_SET)
    train = handwritten_requests(HANDWRITTEN_SETS[s][0] for s in TRAINING_SETS + CALIBRATION_SETS)
    held = HANDWRITTEN_SETS[HELDOUT_SET][0]
    assert len(train) == sum(len(HANDWRITTEN_SETS[s][0].IN_SCOPE) + len(HANDWRITTEN_SETS[s][0].OFF_SCOPE)
                             for s in TRAINING_SETS + CALIBRATION_SETS)
    assert {q.source for q in train} == {"handwritten"} and {q.in_scope for q in train} == {True, False}
    assert not {q.text for q in train} & {" ".join(t.split()) for t in held.IN_SCOPE + held.OFF_SCOPE}


def test_hand_written_request_sets_share_no_request():
    """Sets A-G are written independently: no request appears in two sets, and none is both in and off scope."""
    from steerlab.eval.scope_server import HANDWRITTEN_SETS

    assert list(HANDWRITTEN_SETS) == list("abcdefg")
    seen: set[str] = set()
    for m, _ in HANDWRITTEN_SETS.values():
        texts = [" ".join(t.lower().split()) for t in m.IN_SCOPE + m.OFF_SCOPE]
        assert len(m.IN_SCOPE) == len(m.OFF_SCOPE) == 40 and len(set(texts)) == 80
        assert not seen & set(texts), m.__name__
        seen |= set(texts)
