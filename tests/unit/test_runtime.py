"""The fused op (ARCHITECTURE §2): equals a naive per-request reference, leaves unsteered rows bit-identical."""

from __future__ import annotations

import pytest
import torch

from steering.errors import CapacityExceeded, PackError
from steering.readout import reduce_per_slot
from steering.runtime import SteeringRuntime

D = 16


def reference(h, pack, config):
    """Naive float64: for each token, loop over its request's features one at a time."""
    h = h.double().clone()
    W_enc = pack.W_enc.double() if pack.W_enc is not None else None
    out = h.clone()
    for ref, (op, value) in config.items():
        i = pack.manifest.feature(ref[1]).index
        w_dec = pack.W_dec[i].double()
        if W_enc is None:
            a = h @ (w_dec / w_dec.dot(w_dec))
        else:
            pre = h @ W_enc[:, i] + pack.b_enc[i].double()
            a = torch.where(pre > (pack.threshold[i] if pack.threshold is not None else 0), pre, 0.0)
        if pack.manifest.encoder.kind == "direction":
            a = h @ (w_dec / w_dec.dot(w_dec))
        coef = torch.full_like(a, value) if op == "add" else (value - a) if op == "clamp" else torch.zeros_like(a)
        out += coef[:, None] * w_dec
    return out


def run(rt, h, rows):
    rt.batch.row = torch.tensor(rows)
    rt.batch.rows_present = set(rows)
    return rt.apply_site(1, h)


def test_matches_float64_reference_per_request(pack_factory):
    for kind in ("sae-relu", "sae-jumprelu", "sae-topk", "direction"):
        pack = pack_factory(f"p-{kind}", kind=kind, n_features=4)
        rt = SteeringRuntime([pack], D, max_configs=8)
        configs = [
            {(pack.id, "f0"): ("add", 1.5)},
            {(pack.id, "f1"): ("clamp", 3.0), (pack.id, "f2"): ("add", -0.7)},
            {(pack.id, "f3"): ("clamp", 0.0)},
        ]
        rows = [rt.rows.acquire(c) for c in configs]
        h = torch.randn(9, D, generator=torch.Generator().manual_seed(1))
        token_rows = [0, rows[0], rows[1], rows[2], rows[0], 0, rows[1], rows[2], 0]
        out = run(rt, h.clone(), token_rows)
        for t, r in enumerate(token_rows):
            cfg = configs[rows.index(r)] if r else {}
            want = reference(h[t : t + 1], pack, cfg)
            torch.testing.assert_close(out[t : t + 1].double(), want, rtol=1e-5, atol=1e-5 * want.abs().max().item())


def test_unsteered_rows_are_bit_identical(pack_factory):
    pack = pack_factory("p", n_features=3)
    rt = SteeringRuntime([pack], D)
    r = rt.rows.acquire({("p", "f0"): ("clamp", 5.0), ("p", "f1"): ("monitor", 0.0)})
    h = torch.randn(6, D) * 100
    out = run(rt, h.clone(), [0, r, 0, r, r, 0])
    for t in (0, 2, 5):
        assert torch.equal(out[t], h[t])
    assert not torch.equal(out[1], h[1])
    # the all-unsteered batch, with the full op forced (rows_present=None, as in a static graph) is also exact
    rt.batch.row, rt.batch.rows_present = torch.zeros(6, dtype=torch.long), None
    assert torch.equal(rt.apply_site(1, h.clone()), h)


def test_empty_config_is_row_zero(pack_factory):
    rt = SteeringRuntime([pack_factory("p")], D)
    assert rt.rows.acquire({}) == 0


def test_clamp_then_reencode_gives_target_and_suppress_gives_zero(pack_factory):
    pack = pack_factory("p", n_features=3, pinv_encoder=True)
    rt = SteeringRuntime([pack], D)
    r = rt.rows.acquire({("p", "f0"): ("clamp", 4.0), ("p", "f1"): ("clamp", 0.0), ("p", "f2"): ("clamp", 2.5)})
    # tokens on which every feature is active (pre > 0): the ReLU is then locally linear, so re-encoding is exact
    g = torch.Generator().manual_seed(3)
    h = (torch.rand(5, 3, generator=g) + 1.0) @ pack.W_dec - pack.b_enc @ torch.linalg.pinv(pack.W_enc)
    assert (rt.sites[1].activation(h) > 0).all()
    out = run(rt, h.clone(), [r] * 5)
    a = rt.sites[1].activation(out)
    torch.testing.assert_close(a, torch.tensor([[4.0, 0.0, 2.5]]).expand(5, 3), atol=1e-4, rtol=1e-4)


def test_direction_clamp_sets_projection(pack_factory):
    pack = pack_factory("d", kind="direction", n_features=1)
    rt = SteeringRuntime([pack], D)
    r = rt.rows.acquire({("d", "f0"): ("clamp", -3.0)})
    out = run(rt, torch.randn(4, D), [r] * 4)
    w = pack.W_dec[0]
    torch.testing.assert_close(out @ w / w.dot(w), torch.full((4,), -3.0), atol=1e-4, rtol=1e-4)


def test_config_rows_are_shared_refcounted_and_bounded(pack_factory):
    from steering.errors import CapacityExceeded

    rt = SteeringRuntime([pack_factory("p")], D, max_configs=3)
    a = rt.rows.acquire({("p", "f0"): ("add", 1.0)})
    b = rt.rows.acquire({("p", "f0"): ("add", 1.0)})
    c = rt.rows.acquire({("p", "f1"): ("add", 1.0)})
    assert a == b != c and rt.rows.in_use() == 2
    try:
        rt.rows.acquire({("p", "f2"): ("add", 1.0)})
        raise AssertionError("capacity not enforced")
    except CapacityExceeded:
        pass
    rt.rows.release(a), rt.rows.release(b)
    assert rt.sites[1].add[a].abs().sum() == 0  # a freed row is zeroed before reuse
    assert rt.rows.acquire({("p", "f2"): ("add", 1.0)}) == a


def test_reduce_per_slot_matches_loops():
    g = torch.Generator().manual_seed(0)
    seen = torch.randn(10, 3, generator=g)
    slot = torch.tensor([0, 0, 1, 1, 1, 2, 2, 3, 3, 3])  # slot 3 = discard bucket when S=3
    pos = torch.tensor([0, 1, 0, 1, 2, 5, 6, 0, 0, 0])
    thr = torch.tensor([0.0, 0.5, 10.0])
    mx, cnt, first = reduce_per_slot(seen, thr, slot, pos, S=3)
    for s in range(3):
        sel = slot == s
        torch.testing.assert_close(mx[s], seen[sel].amax(0))
        over = seen[sel] > thr
        assert cnt[s].tolist() == over.sum(0).tolist()
        for f in range(3):
            idx = pos[sel][over[:, f]]
            assert first[s, f].item() == (idx.min().item() if len(idx) else -1)


def test_each_row_reports_against_its_own_threshold(pack_factory):
    """Monitor thresholds travel with the config (a policy override is part of the row), so two requests that
    watch the same feature with different thresholds share a batch and each is counted against its own."""
    from steering.runtime import BatchState

    pack = pack_factory("p", kind="direction", n_features=1)
    rt = SteeringRuntime([pack], D, max_slots=2)
    ref = ("p", "f0")
    low, high = rt.rows.acquire({ref: ("monitor", -1e9)}), rt.rows.acquire({ref: ("monitor", 1e9)})
    assert low != high
    h = torch.randn(6, D)
    rt.batch = BatchState(row=torch.tensor([low] * 3 + [high] * 3), slot=torch.tensor([0] * 3 + [1] * 3),
                          pos=torch.arange(6) % 3, rows_present={low, high})
    rt.apply_site(1, h)
    (readout,) = rt.batch.readouts
    assert readout.count[:, 0].tolist() == [3, 0]
    rt.rows.release(low)
    assert torch.isinf(rt.sites[1].watch_thr[low]).all()  # a freed row watches nothing and reports nothing


def test_conditional_pack_edits_only_where_its_condition_holds(pack_factory):
    """A v2 pack with a condition: feature f0 gates f1's edit at both sites, token by token; the gate is read at
    the read site (the lowest layer) before either edit; the receipt counts only the edited positions; the
    static-graph op (vLLM) gives the same result as the eager one."""
    from steering.monitor import AppliedCounter

    pack = pack_factory("c", kind="probe", n_features=2, layers=[1, 2],
                        condition={"feature": "f0", "apply_when": "below", "threshold": 0.0})
    rt = SteeringRuntime([pack], D)
    r = rt.rows.acquire({("c", "f1"): ("add", 2.0)})
    h = torch.randn(8, D, generator=torch.Generator().manual_seed(3))
    w0, b0 = pack.sites[0].W_enc[:, 0], pack.sites[0].b_enc[0]
    open_ = (h @ w0 + b0) < 0  # where the condition holds at the read site
    assert open_.any() and (~open_).any()
    rt.batch.row, rt.batch.rows_present = torch.full((8,), r), {r}
    rt.batch.slot, rt.batch.pos = torch.zeros(8, dtype=torch.long), torch.arange(8)
    h1 = rt.apply_site(1, h.clone())
    h2 = rt.apply_site(2, h1.clone())
    want1 = h + open_[:, None] * 2.0 * pack.sites[0].W_dec[1]
    torch.testing.assert_close(h1, want1)
    torch.testing.assert_close(h2, want1 + open_[:, None] * 2.0 * pack.sites[1].W_dec[1])
    applied = AppliedCounter({("c", "f1"): ("add", 2.0)}, rt.columns)
    applied.update(rt.batch.edits, 0)
    assert applied.as_dict() == {"c/f1": int(open_.sum())}
    # the static op, with a gate buffer that starts open
    gates = torch.ones(8, 1, dtype=torch.bool)
    d1, _ = rt.sites[1].apply_static(h, rt.batch.row, gates)
    assert torch.equal(gates[:, 0], open_)
    d2, _ = rt.sites[2].apply_static(h + d1, rt.batch.row, gates)
    torch.testing.assert_close(h + d1 + d2, h2)
    # the condition feature itself is never gated: monitoring it reads the plain activation
    assert rt.sites[1].col_gate.tolist() == [-1, 0] and rt.sites[2].col_gate.tolist() == [-1, 0]


def test_a_latch_closes_the_gate_for_the_rest_of_the_request(pack_factory):
    """A condition (f0, read at layer 2) with a latch (f2, read at layer 1): from the first token where the latch
    fires, f1's edit at layer 2 stops for every later token of that request (not before it, not in other
    requests), in this pass and, carried by the engine as ``latch.latched()``, in the next; the static op (vLLM)
    writes the same gates."""
    from steering.readout import Latch

    pack = pack_factory("c", kind="probe", n_features=3, layers=[1, 2], no_edit={0: [1]},
                        condition={"feature": "f0", "apply_when": "below", "threshold": 1e9, "site": 1,  # always open
                                   "latch": {"feature": "f2", "threshold": 0.0, "site": 0}})
    rt = SteeringRuntime([pack], D, max_slots=2)
    assert rt.columns[("c", "f0")].layer == 2 and rt.columns[("c", "f2")].layer == 1  # each read at its own site
    r = rt.rows.acquire({("c", "f1"): ("add", 2.0)})
    w2, b2 = pack.sites[0].W_enc[:, 2], pack.sites[0].b_enc[2]
    h = torch.randn(8, D, generator=torch.Generator().manual_seed(5))
    h -= ((h @ w2 + b2 + 1.0) / (w2 @ w2))[:, None] * w2  # the latch reads -1 everywhere ...
    h[2] += (2.0 / (w2 @ w2)) * w2  # ... but at request 0's token 2 (+1)
    slot, pos = torch.tensor([0] * 4 + [1] * 4), torch.arange(8) % 4
    edit = pack.sites[1].W_dec[1]

    def edited(before, after):
        return ((after - before) @ edit != 0).tolist()

    with rt.forward(torch.full((8,), r), slot, pos) as state:
        h1 = rt.apply_site(1, h.clone())
        assert torch.equal(h1, h)  # no edit at the latch's layer
        h2 = rt.apply_site(2, h1.clone())
    # position 0 of each request is the attention sink (never edited); request 0 stops at its token 2
    assert edited(h, h2) == [False, True, False, False, False, True, True, True]
    assert state.latch.latched()[:2, 0].tolist() == [True, False]
    # the next pass (one decode token per request) starts from the carried latches
    nxt = h[[1, 5]]
    with rt.forward(torch.full((2,), r), torch.tensor([0, 1]), torch.tensor([4, 4]),
                    latched=state.latch.latched()[:2]) as state2:
        out = rt.apply_site(2, rt.apply_site(1, nxt.clone()))
    assert edited(nxt, out) == [False, True]
    assert state2.latch.latched()[:2, 0].tolist() == [True, False]
    # the static op with static buffers gives the same gates
    latch, gates = Latch.new(slot, pos, 2, 1), torch.ones(8, 1, dtype=torch.bool)
    rows = torch.where(pos == 0, 0, r)
    d1, _ = rt.sites[1].apply_static(h, rows, gates, latch)
    rt.sites[2].apply_static(h + d1, rows, gates, latch)
    assert gates[:, 0].tolist() == [True, True, False, False, True, True, True, True]
    latch.reset(torch.tensor([[False], [True]]))
    assert latch.latched()[:3, 0].tolist() == [False, True, False]


def test_condition_manifest_checks(pack_factory):
    import pytest

    with pytest.raises(ValueError, match="lowest layer"):  # save_pack refuses to write what load would refuse
        pack_factory("c1", kind="probe", n_features=2, layers=[2, 1], condition={"feature": "f0", "threshold": 0})
    with pytest.raises(ValueError, match="not a feature"):
        pack_factory("c2", kind="probe", n_features=2, layers=[1, 2], condition={"feature": "zz", "threshold": 0})
    with pytest.raises(ValueError, match="latch feature"):
        pack_factory("c3", kind="probe", n_features=2, layers=[1, 2],
                     condition={"feature": "f0", "threshold": 0, "latch": {"feature": "f0", "threshold": 0}})
    with pytest.raises(ValueError, match="at or below"):
        pack_factory("c4", kind="probe", n_features=3, layers=[1, 2],
                     condition={"feature": "f0", "threshold": 0, "latch": {"feature": "f2", "threshold": 0, "site": 1}})
    with pytest.raises(PackError, match="at or above its condition"):  # an edit below the gate's layer
        pack_factory("c5", kind="probe", n_features=2, layers=[1, 2], condition={"feature": "f0", "threshold": 0,
                                                                               "site": 1})


def test_switch_moves_one_request_without_touching_a_shared_row(pack_factory):
    from steering.config import FeatureRef

    rt = SteeringRuntime([pack_factory("p")], D, max_configs=4)
    base = {("p", "f0"): ("add", 1.0)}
    a, b = rt.rows.acquire(base), rt.rows.acquire(base)  # two requests share a row
    before = rt.sites[1].add[a].clone()
    moved = rt.rows.switch(a, {**base, ("p", "f1"): ("add", 2.0)})  # one of them starts counter-steering
    assert moved != a and rt.rows.in_use() == 2
    assert torch.equal(rt.sites[1].add[b], before)  # the other request's row is unchanged
    with pytest.raises(CapacityExceeded):  # no room: the request keeps its row
        rt.rows.acquire({("p", "f2"): ("add", 1.0)}), rt.rows.switch(moved, {("p", "f2"): ("add", 3.0)})
    assert rt.rows.in_use() == 3
    assert str(FeatureRef("p", "f0")) == "p/f0" and FeatureRef.parse("p/f0") == ("p", "f0")


def test_prompt_only_features_are_dropped_after_the_prompt(pack_factory, tmp_path):
    from pydantic import ValidationError

    from steering.config import after_prompt, prompt_only

    rt = SteeringRuntime([pack_factory("say", kind="direction", n_features=2, apply_to="prompt"),
                          pack_factory("p", seed=1)], D)
    config = {("say", "f0"): ("add", 1.0), ("say", "f1"): ("monitor", 0.5), ("p", "f0"): ("add", 2.0)}
    drop = prompt_only(config, rt.columns)
    assert drop == {("say", "f0")}  # edits only: a monitor of the same pack keeps reading the reply
    assert after_prompt(config, drop) == {("say", "f1"): ("monitor", 0.5), ("p", "f0"): ("add", 2.0)}
    assert prompt_only({("p", "f0"): ("add", 2.0)}, rt.columns) == frozenset()
    with pytest.raises(ValidationError, match="apply_to"):
        pack_factory("bad", apply_to="generated")


def test_a_monitor_read_at_the_last_prompt_token_reads_there_only(pack_factory):
    """``read_at: "last_prompt_token"``: the column is read where the batch marks a request's last prompt token and
    nowhere else (no mark: nowhere); an ordinary monitor in the same pass reads every token."""
    from pydantic import ValidationError

    rt = SteeringRuntime([pack_factory("scope", kind="probe", n_features=1, read_at="last_prompt_token"),
                          pack_factory("all", kind="probe", n_features=1, seed=1)], D)
    assert rt.columns[("scope", "f0")].read_at == "last_prompt_token"
    row = rt.rows.acquire({("scope", "f0"): ("monitor", 0.0), ("all", "f0"): ("monitor", 0.0)})
    h = torch.randn(6, D, generator=torch.Generator().manual_seed(5))
    rows, slots, pos = torch.full((6,), row), torch.tensor([0, 0, 0, 1, 1, 1]), torch.tensor([1, 2, 3, 1, 2, 3])
    end = torch.tensor([False, True, False, False, False, True])  # request 0's prompt ends at its 2nd token
    t = rt.sites[1]
    a = t.activation(h)
    c_scope, c_all = rt.columns[("scope", "f0")].col, rt.columns[("all", "f0")].col
    for mark, want in ((end, a[[1, 5], c_scope]), (None, torch.full((2,), float("-inf")))):
        with rt.forward(rows, slots, pos, prompt_end=mark) as state:
            rt.apply_site(1, h)
        (r,) = state.readouts
        assert torch.equal(r.max[:2, c_scope], want)
        assert torch.equal(r.max[:2, c_all], torch.stack([a[:3, c_all].max(), a[3:, c_all].max()]))
    with pytest.raises(ValidationError, match="read_at"):
        pack_factory("bad", read_at="prompt")
