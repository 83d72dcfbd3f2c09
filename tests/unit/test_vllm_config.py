"""The vLLM integration without vLLM: what travels in extra_args, the prefix-cache salt, the branch-free op, and
the worker's per-step bookkeeping on a stand-in runner shaped like vLLM's (flattened tokens, query_start_loc)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from steering.errors import SteeringError
from steering.runtime import BatchState, SteeringRuntime
from steering.vllm.config import cache_salt, decode, encode_resolved
from steering.vllm.worker import WorkerSteering


@pytest.fixture
def pack(pack_factory):
    return pack_factory("topic", layer=1, n_features=3)


@pytest.fixture
def rt(pack):
    return SteeringRuntime([pack], 16)


SECRET = "s3cret"


def test_resolved_form_round_trips(rt):
    config = {("topic", "f0"): ("add", 3.0), ("topic", "f1"): ("monitor", 0.0)}
    steer_on = {("topic", "f1"): {("topic", "f0"): ("clamp", 0.0)}}
    args = decode(encode_resolved("req-1", config, steer_on, True, SECRET), rt, secret=SECRET)
    assert (args.key, args.config, args.steer_on, args.report) == ("req-1", config, steer_on, True)


def _signed(payload: dict, secret: str = SECRET) -> dict:
    """A resolved config with any contents, signed (so the checks after the signature are reached)."""
    from steering.vllm.config import _mac

    return {"steerserve": {**payload, "mac": _mac(payload, secret)}}


GOOD = {"id": "k", "config": [["topic", "f0", "add", 1.0]], "steer_on": [], "monitor": False}
HOSTILE = [
    ("not an object", "x"),
    ("non-dict resolved", {"steerserve": "x"}),
    ("list resolved", {"steerserve": [1, 2]}),
    ("unsigned", {"steerserve": dict(GOOD)}),
    ("signed with another secret", _signed(GOOD, "guess")),
    ("tampered after signing", {"steerserve": {**_signed(GOOD)["steerserve"], "config": [["topic", "f0", "add", 99.0]]}}),
    ("config not a list", _signed({**GOOD, "config": "topic/f0:add=1"})),
    ("entry wrong length", _signed({**GOOD, "config": [["topic", "f0", "add"]]})),
    ("value a string", _signed({**GOOD, "config": [["topic", "f0", "add", "1"]]})),
    ("value NaN", _signed({**GOOD, "config": [["topic", "f0", "add", float("nan")]]})),
    ("value inf", _signed({**GOOD, "config": [["topic", "f0", "add", float("inf")]]})),
    ("unknown op", _signed({**GOOD, "config": [["topic", "f0", "explode", 1.0]]})),
    ("unknown pack", _signed({**GOOD, "config": [["nope", "f0", "add", 1.0]]})),
    ("unknown feature", _signed({**GOOD, "config": [["topic", "nope", "add", 1.0]]})),
    ("huge", _signed({**GOOD, "config": [["topic", "f0", "add", 1.0]] * 100_000})),
    ("id not a string", _signed({**GOOD, "id": {"a": 1}})),
    ("steer_on malformed", _signed({**GOOD, "steer_on": [["topic"]]})),
    ("spec not a string", {"steering": ["topic/f0:add=1"]}),
    ("spec number", {"steering": 5}),
    ("spec NaN value", {"steering": "topic/f0:clamp=nan"}),
    ("spec huge", {"steering": "topic/f0:monitor," * 10_000}),
]


@pytest.mark.parametrize("extra", [x for _, x in HOSTILE], ids=[n for n, _ in HOSTILE])
def test_hostile_extra_args_raise_steering_errors_only(rt, extra):
    """Whatever a client puts in vllm_xargs, decoding raises a SteeringError (a 400), nothing else."""
    with pytest.raises(SteeringError):
        decode(extra, rt, secret=SECRET)


def test_resolved_form_is_refused_without_a_secret(rt):
    """Plain `vllm serve` has no secret: even a well-formed resolved config is refused (it would skip validation,
    bounds and policy)."""
    with pytest.raises(SteeringError, match="reserved for the steerserve API server"):
        decode(_signed(GOOD), rt, secret=None)


def test_spec_form_is_resolved_against_the_packs(rt):
    args = decode({"steering": "topic/f0:add=2x"}, rt)
    assert args.key is None
    assert args.config[("topic", "f0")] == ("add", pytest.approx(2 * rt.column(("topic", "f0")).max_activation))
    assert decode(None, rt) is None and decode({"other": 1}, rt) is None


@pytest.mark.parametrize("spec", ["nope:monitor", "topic/nope:add=1", "topic/f0:explode", "topic/f0:add=1e9x"])
def test_bad_specs_raise_steering_errors(rt, spec):
    with pytest.raises(SteeringError):
        decode({"steering": spec}, rt)


def test_cache_salt_separates_edits_but_not_monitors():
    a = cache_salt({("p", "f"): ("add", 1.0)})
    assert a and a == cache_salt({("p", "f"): ("add", 1.0)})
    assert a != cache_salt({("p", "f"): ("add", 1.5)})
    assert a != cache_salt({("p", "f"): ("clamp", 1.0)})
    assert a != cache_salt({("p", "f"): ("add", 1.0)}, tables="other packs")
    assert cache_salt({}) is None
    assert cache_salt({("p", "f"): ("monitor", 0.0)}) is None


def test_apply_static_equals_the_eager_op_and_leaves_row_0_exact(rt):
    t = rt.sites[1]
    r1 = rt.rows.acquire({("topic", "f0"): ("add", 1.5), ("topic", "f1"): ("clamp", 0.3)})
    h = torch.randn(6, 16)
    row = torch.tensor([0, r1, 0, r1, r1, 0])
    delta, a = t.apply_static(h, row)
    eager, _ = t.apply(h, row, {0, r1})
    torch.testing.assert_close(h + delta, eager)
    assert torch.equal((h + delta)[row == 0], h[row == 0])
    torch.testing.assert_close(a, t.activation(h))


# -- the worker on a stand-in runner ------------------------------------------------------------------------------
class _Layer(torch.nn.Module):
    """Returns (h, residual) like a vLLM decoder layer; the stream after it is their sum."""

    def forward(self, h, residual):
        return h * 0.5, residual + h * 0.5


class _Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.model = torch.nn.Module()
        self.model.layers = torch.nn.ModuleList([_Layer() for _ in range(4)])

    def forward(self, x):
        h, r = x, torch.zeros_like(x)
        for layer in self.model.layers:
            h, r = layer(h, r)
        return h + r


def _runner(reqs: dict[str, tuple[dict | None, int]], order: list[str], counts: list[int], computed: list[int]):
    offsets = np.concatenate([[0], np.cumsum(counts)])
    return SimpleNamespace(
        input_batch=SimpleNamespace(num_reqs=len(order), req_ids=order, num_computed_tokens_cpu=np.array(computed)),
        query_start_loc=SimpleNamespace(np=offsets),
        requests={rid: SimpleNamespace(sampling_params=SimpleNamespace(extra_args=x), prompt_token_ids=[0] * n)
                  for rid, (x, n) in reqs.items()},
    )


class _Publisher:
    """Records what the worker would send (ReadingsPublisher.reading + one send per step)."""

    def __init__(self):
        self.sent = []

    reading = staticmethod(lambda key, computed, events, summary, positions=None: (
        key, computed, [e.name for e in events], summary, positions))

    def send(self, readings):
        self.sent += readings


def test_worker_maps_tokens_to_rows_spares_the_sink_and_reports_monitors(pack):
    model, pub = _Model(), _Publisher()
    w = WorkerSteering(model, [pack], d_model=16, max_tokens=64, max_reqs=4, publisher=pub, secret=SECRET)
    thr = 0.0  # the monitor's threshold, as the request sets it (not the pack's default)
    add = encode_resolved("a", {("topic", "f0"): ("add", 2.0)}, {}, False, SECRET)
    mon = encode_resolved("m", {("topic", "f2"): ("monitor", thr)}, {}, True, SECRET)
    reqs = {"A": (add, 3), "B": (None, 2), "M": (mon, 4)}
    # step 1: prefills in batch order B, A, M (not arrival order)
    runner = _runner(reqs, ["B", "A", "M"], [2, 3, 4], [0, 0, 0])
    w.before_forward(runner, 12)  # 9 real tokens + 3 padding
    rows = w.row_buf[:12].tolist()
    ra, rm = w.reqs["A"].row, w.reqs["M"].row
    assert rows == [0, 0, 0, ra, ra, 0, rm, rm, rm, 0, 0, 0]  # each request's first token is its attention sink
    x = torch.randn(12, 16, generator=torch.Generator().manual_seed(0))
    model(x)
    w.after_forward()
    key, computed, _, summary, _ = pub.sent[-1]
    assert (key, computed) == ("m", 4)
    acts = w.act_buf[1][6:9, w.rt.column(("topic", "f2")).col]  # M's tokens but its sink
    assert summary["topic/f2"]["prompt_max"] == pytest.approx(float(acts.max()), rel=1e-5)
    assert summary["topic/f2"]["tokens_over"] == int((acts > thr).sum())
    # step 2: decodes; B finished and left; the worker frees rows of requests vLLM no longer holds
    runner = _runner({"A": reqs["A"], "M": reqs["M"]}, ["M", "A"], [1, 1], [4, 3])
    w.before_forward(runner, 2)
    assert w.row_buf[:2].tolist() == [rm, ra]
    model(torch.randn(2, 16))
    w.after_forward()
    assert pub.sent[-1][1] == 5
    runner = _runner({}, [], [], [])
    w.before_forward(runner, 1)
    assert w.reqs == {} and w.rt.rows.in_use() == 0


def test_worker_hook_equals_the_eager_runtime_on_the_stream(pack):
    """The hook encodes h + residual and adds the delta once: the stream after the layer equals the HF-style op."""
    model = _Model()
    w = WorkerSteering(model, [pack], d_model=16, max_tokens=8, max_reqs=2, secret=SECRET)
    cfg = {("topic", "f0"): ("clamp", 0.7)}
    runner = _runner({"A": (encode_resolved("a", cfg, {}, False, SECRET), 5)}, ["A"], [5], [3])
    w.before_forward(runner, 5)
    x = torch.randn(5, 16)
    h, r = x, torch.zeros_like(x)
    for i, layer in enumerate(model.model.layers):
        h, r = layer(h, r)
        if i == 1:
            steered_stream = h + r
    w.remove()
    ref = SteeringRuntime([pack], 16)
    row = ref.rows.acquire(cfg)
    ref.batch = BatchState(row=torch.full((5,), row), rows_present={row})
    h, r = x, torch.zeros_like(x)
    for layer in model.model.layers[:2]:
        h, r = layer(h, r)
    torch.testing.assert_close(steered_stream, ref.apply_site(1, h + r))


def test_worker_runs_a_bad_request_unsteered_and_keeps_going(pack):
    """Isolation: a request whose extra_args the worker cannot use (forged, malformed, or a fault while decoding)
    runs unsteered, is counted, and the step still steers the other requests in the batch."""
    model = _Model()
    w = WorkerSteering(model, [pack], d_model=16, max_tokens=16, max_reqs=4, secret=SECRET)
    good = encode_resolved("g", {("topic", "f0"): ("add", 2.0)}, {}, False, SECRET)
    forged = encode_resolved("f", {("topic", "f0"): ("add", 2.0)}, {}, False, "guess")
    reqs = {"G": (good, 3), "F": (forged, 3), "X": ({"steerserve": "x"}, 3), "N": ("not a dict", 3)}
    runner = _runner(reqs, ["F", "G", "X", "N"], [3, 3, 3, 3], [0, 0, 0, 0])
    w.before_forward(runner, 12)
    rg = w.reqs["G"].row
    assert rg and w.row_buf[:12].tolist() == [0] * 3 + [0, rg, rg] + [0] * 6
    assert w.unsteered == 3
    model(torch.randn(12, 16))
    w.after_forward()
    w.before_forward(_runner(reqs, ["F", "G", "X", "N"], [1] * 4, [3] * 4), 4)  # decided once, not re-logged
    assert w.unsteered == 3 and w.row_buf[:4].tolist() == [0, rg, 0, 0]


def test_worker_step_fault_runs_the_step_unsteered(pack, monkeypatch):
    model = _Model()
    w = WorkerSteering(model, [pack], d_model=16, max_tokens=16, max_reqs=4, secret=SECRET)
    good = encode_resolved("g", {("topic", "f0"): ("add", 2.0)}, {}, False, SECRET)
    runner = _runner({"G": (good, 3)}, ["G"], [3], [0])
    w.before_forward(runner, 3)
    monkeypatch.setattr(w, "_release_finished", lambda runner: 1 / 0)
    w.before_forward(runner, 3)  # does not raise
    assert w.row_buf[:3].tolist() == [0, 0, 0]


def test_worker_receipts_count_only_what_the_hook_edited(pack):
    """The receipt comes from the hook's own writes: a pass in which the op did not run (a compiled graph that
    dropped it, a second runner) adds nothing, so the client sees steering that was not applied."""
    model, pub = _Model(), _Publisher()
    w = WorkerSteering(model, [pack], d_model=16, max_tokens=32, max_reqs=4, publisher=pub, secret=SECRET)
    add = encode_resolved("a", {("topic", "f0"): ("add", 2.0)}, {}, True, SECRET)
    w.before_forward(_runner({"A": (add, 5)}, ["A"], [5], [0]), 5)
    model(torch.randn(5, 16))
    w.after_forward()
    assert pub.sent[-1][4] == {"topic/f0": 4}  # 5 prompt tokens, the attention sink spared
    decode = _runner({"A": (add, 5)}, ["A"], [1], [5])
    w.before_forward(decode, 1)  # ...and no forward through the hooked layers
    w.after_forward()
    assert pub.sent[-1][4] == {"topic/f0": 4}
    w.before_forward(decode, 1)
    model(torch.randn(1, 16))
    w.after_forward()
    assert pub.sent[-1][4] == {"topic/f0": 5}


def test_worker_carries_latches_from_pass_to_pass_and_across_a_reload(pack_factory):
    """A conditional pack whose latch fires on every token: the worker's static buffers close its gate from the
    first token after the sink (where a latch that never fires leaves it open), the request keeps it closed in its
    decode steps, and a reload that moves the pack to another gate index moves the request's latch with it."""
    def conditional(pid, fires):
        return pack_factory(pid, kind="probe", n_features=3, layers=[1, 2], no_edit={0: [1]},
                            condition={"feature": "f0", "apply_when": "below", "threshold": 1e9, "site": 1,
                                       "latch": {"feature": "f2", "threshold": -1e9 if fires else 1e9, "site": 0}})

    def run(pack):
        model, pub = _Model(), _Publisher()
        w = WorkerSteering(model, [pack], d_model=16, max_tokens=16, max_reqs=4, publisher=pub, secret=SECRET)
        reqs = {"A": (encode_resolved("k", {(pack.id, "f1"): ("add", 2.0)}, {}, True, SECRET), 3)}
        edited = []
        for counts, computed in (([3], [0]), ([1], [3])):  # the prompt, then one decode step
            w.before_forward(_runner(reqs, ["A"], counts, computed), counts[0])
            model(torch.randn(counts[0], 16))
            w.after_forward()
            edited.append(pub.sent[-1][4][f"{pack.id}/f1"])
        return w, edited

    w, edited = run(conditional("open", fires=False))
    assert edited == [2, 3] and w.reqs["A"].latched.tolist()[:1] == [False]  # the sink is never edited
    c = conditional("c", fires=True)
    w, edited = run(c)
    assert edited == [0, 0] and w.reqs["A"].latched.tolist()[:1] == [True]
    w.reload([conditional("b", fires=False), c])  # "c" moves from gate 0 to gate 1
    assert w.rt.gates == {"b": 0, "c": 1}
    assert w.reqs["A"].latched.tolist()[:2] == [False, True]


def test_worker_reads_a_summed_probe_over_its_sites(pack_factory):
    """``readout: "sum"`` in the static-graph hook: the worker's carry buffer takes each site's term to the highest
    site, whose activations (what the monitors read) are the sum; the published reading is its max."""
    summed = pack_factory("code", kind="probe", n_features=2, layers=[3, 1, 2], readout="sum")
    model, pub = _Model(), _Publisher()
    w = WorkerSteering(model, [summed], d_model=16, max_tokens=16, max_reqs=2, publisher=pub, secret=SECRET)
    mon = encode_resolved("m", {("code", "f1"): ("monitor", 0.0)}, {}, True, SECRET)
    w.before_forward(_runner({"M": (mon, 5)}, ["M"], [5], [0]), 5)
    x = torch.randn(5, 16, generator=torch.Generator().manual_seed(2))
    model(x)  # the stand-in layers keep the stream equal to x, so each site's term is x·W_enc.<i> + b_enc.<i>
    w.after_forward()
    want = sum(x @ s.W_enc[:, 1] + s.b_enc[1] for s in summed.sites)
    col = w.rt.column(("code", "f1")).col
    torch.testing.assert_close(w.act_buf[3][:5, col], want, rtol=1e-5, atol=1e-5)
    assert pub.sent[-1][3]["code/f1"]["prompt_max"] == pytest.approx(float(want[1:].max()), rel=1e-5)  # sink spared
    with pytest.raises(SteeringError, match="can only be monitored"):  # an edit of it is a client error, not a crash
        decode({"steering": "code/f1:add=1"}, w.rt)
