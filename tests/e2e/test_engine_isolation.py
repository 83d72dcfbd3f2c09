"""Catalogue G on the real model: batch isolation of per-request steering inside the HF engine.

Tolerance: requests that join a padded decode batch run through batched matmuls and masked attention whose
blocking differs from a solo run, so their floats may differ in the last bits. Greedy text must be equal; where we
compare logprobs across batch shapes we allow 1e-3 absolute (observed differences are ~1e-5). Within one batch
shape, unsteered rows must be *bit-identical* whatever the other rows do.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import wait_for
from tests.e2e.conftest import assert_greedy_agree, collect, vcollect

GG = ("golden-gate", "bridge")
PROMPTS = ["What is your favourite food?", "Name three colours.", "How do I boil an egg?", "What is a river?"]


def mixed_configs(engine):
    m = engine.runtime.columns[GG].max_activation
    return [{}, {GG: ("add", 1.5 * m)}, {GG: ("monitor", 0.0)}, {GG: ("clamp", 2.0 * m)}]


def run_all(engine, jobs, *, same_batch: bool = False, **kw):
    """Run ``jobs`` concurrently. ``same_batch``: hold the engine's step lock until all are queued, so they are
    admitted (prefilled) together whatever the timing: bitwise comparisons need the same batch composition."""
    async def go():
        if not same_batch:
            return await asyncio.gather(*(collect(engine, p, s, rid=f"j{i}", **kw) for i, (p, s) in enumerate(jobs)))
        with engine._lock:
            tasks = [asyncio.create_task(collect(engine, p, s, rid=f"j{i}", **kw)) for i, (p, s) in enumerate(jobs)]
            while len(engine._waiting) < len(jobs):
                await asyncio.sleep(0.001)
        return await asyncio.gather(*tasks)

    return asyncio.run(go())


async def _runs(engine, jobs):
    return await asyncio.gather(*(vcollect(engine, p, s) for p, s in jobs))


@pytest.mark.slow
def test_unsteered_rows_bit_identical_whatever_the_neighbours_do(engine):
    cfgs = mixed_configs(engine)
    # same batch shape at every step (ignore_eos), only the neighbours' steering differs
    steered = run_all(engine, [(PROMPTS[0], {}), (PROMPTS[1], cfgs[1]), (PROMPTS[2], cfgs[3])], ignore_eos=True,
                      same_batch=True)
    plain = run_all(engine, [(PROMPTS[0], {}), (PROMPTS[1], {}), (PROMPTS[2], {})], ignore_eos=True,
                    same_batch=True)
    assert steered[0][1] == plain[0][1]  # exact float equality of every logprob
    assert steered[1][0] != plain[1][0]  # and the neighbour really was steered


@pytest.mark.slow
def test_concurrent_mixed_requests_equal_their_solo_runs(engine):
    cfgs = mixed_configs(engine)
    jobs = [(PROMPTS[i % 4], cfgs[(i // 4 + i) % 4]) for i in range(8)]
    together = asyncio.run(_runs(engine, jobs))
    for (prompt, cfg), run in zip(jobs, together, strict=True):
        # same dtype, other batch shapes: logprobs within 1e-3, texts equal up to a near-tie (machine-independent)
        assert_greedy_agree(run, asyncio.run(vcollect(engine, prompt, cfg)), tol=1e-3)


@pytest.mark.slow
def test_batch_1_4_16_same_text(engine):
    cfgs = mixed_configs(engine)
    base = [(PROMPTS[i % 4], cfgs[i % 4]) for i in range(16)]
    runs = {}
    for n in (1, 4, 16):
        out = []
        for start in range(0, 16, n):
            out += asyncio.run(_runs(engine, base[start : start + n]))
        runs[n] = out
    for a, b, c in zip(runs[1], runs[4], runs[16], strict=True):  # equal up to a near-tie, logprobs within 1e-3
        assert_greedy_agree(a, b, tol=1e-3)
        assert_greedy_agree(a, c, tol=1e-3)


@pytest.mark.slow
def test_steering_changes_output_and_empty_spec_does_not(engine):
    cfgs = mixed_configs(engine)
    plain = asyncio.run(collect(engine, PROMPTS[0]))[0]
    assert asyncio.run(collect(engine, PROMPTS[0], {}))[0] == plain
    steered = asyncio.run(collect(engine, PROMPTS[0], cfgs[1]))[0]
    assert steered != plain
    assert asyncio.run(collect(engine, PROMPTS[0], cfgs[2]))[0] == plain  # monitoring does not change the text


@pytest.mark.slow
def test_reply_stops_at_end_of_turn(engine):
    text, _, finish = asyncio.run(collect(engine, "What is the capital of France?", max_tokens=64))
    assert finish == "stop" and "Paris" in text
    assert "<|im_end|>" not in text and "user" not in text.lower()


@pytest.mark.slow
def test_stop_sequences_and_max_tokens(engine):
    text, _, finish = asyncio.run(collect(engine, "Count from 1 to 10, separated by commas.", max_tokens=40,
                                          stop=("5",)))
    assert finish == "stop" and "5" not in text and "4" in text
    _, lps, finish = asyncio.run(collect(engine, "Tell me a long story.", max_tokens=5))
    assert finish == "length" and len(lps) == 5


@pytest.mark.slow
def test_abort_frees_the_config_row(engine):
    cfg = mixed_configs(engine)[1]

    async def go():
        from server.engines.base import GenerateRequest, SamplingParams

        req = GenerateRequest("ab", engine.tokenize_chat([{"role": "user", "content": "Tell a story."}]),
                              SamplingParams(max_tokens=200, temperature=0), cfg)
        agen = engine.generate(req)
        await agen.__anext__()
        assert engine.runtime.rows.in_use() == 1
        await agen.aclose()  # what a client disconnect does
        for _ in range(100):
            if engine.runtime.rows.in_use() == 0:
                return True
            await asyncio.sleep(0.01)
        return False

    assert asyncio.run(go()), "config row not freed within 1 s of abort"


@pytest.mark.slow
def test_seeded_sampling_is_reproducible(engine):
    def sample(seed):
        return asyncio.run(collect(engine, "Write a sentence about cats.", temperature=1.0, top_p=0.9, seed=seed,
                                   max_tokens=16))[0]

    assert sample(7) == sample(7)
    assert len({sample(s) for s in (1, 2, 3)}) > 1


@pytest.mark.slow
def test_reload_during_traffic_fails_nothing_and_old_requests_keep_their_table(engine, shipped_packs):
    cfg = mixed_configs(engine)[1]
    solo = asyncio.run(collect(engine, PROMPTS[1], cfg, max_tokens=16))[0]

    async def go():
        jobs = [asyncio.create_task(collect(engine, PROMPTS[i % 4], cfg if i % 2 else {}, rid=f"rl{i}",
                                            max_tokens=16)) for i in range(8)]
        await asyncio.sleep(0.3)  # some requests are mid-generation
        await asyncio.to_thread(engine.reload, shipped_packs)
        return await asyncio.gather(*jobs)

    results = asyncio.run(go())
    assert all(finish in ("stop", "length") for _, _, finish in results)
    assert results[1][0] == solo  # a steered request that straddled the reload equals its solo run
    # the old table's hooks come off once its last request finished (at the worker's next iteration, ≤ 0.1 s idle)
    wait_for(lambda: len(engine._live) == 1, "old table retired", 5)
    from steering.hooks import hook_count

    assert hook_count(engine.model) == len(engine.runtime.sites)


@pytest.mark.slow
def test_an_exception_in_the_hook_fails_only_that_request(engine, monkeypatch):
    cfgs = mixed_configs(engine)
    bad_cfg = {GG: ("add", 0.37 * engine.runtime.columns[GG].max_activation)}  # a config only this request uses
    solo = [asyncio.run(collect(engine, PROMPTS[i], c, max_tokens=12))[0] for i, c in ((0, {}), (1, cfgs[1]))]
    rt = engine.runtime
    bad_row = {}
    original = rt.apply_site

    def flaky(layer, h):
        b = rt.batch
        if b.row is not None and b.row.numel() <= 4 and bad_row.get("r") in b.row.tolist():  # decode steps only
            raise RuntimeError("injected hook failure")
        return original(layer, h)

    monkeypatch.setattr(rt, "apply_site", flaky)
    bad_row["r"] = rt.rows.acquire(bad_cfg)  # the row the request will share (refcounted)

    async def go():
        return await asyncio.gather(collect(engine, PROMPTS[0], {}, rid="ok0", max_tokens=12),
                                    collect(engine, PROMPTS[2], bad_cfg, rid="bad", max_tokens=12),
                                    collect(engine, PROMPTS[1], cfgs[1], rid="ok1", max_tokens=12))

    ok0, bad, ok1 = asyncio.run(go())
    rt.rows.release(bad_row["r"])
    assert bad[2] == "error"
    assert (ok0[0], ok1[0]) == tuple(solo) and ok0[2] in ("stop", "length") and ok1[2] in ("stop", "length")


@pytest.mark.slow
def test_a_decode_step_that_fails_part_way_loses_nothing(engine):
    """A forward that raises half-way through the layers (after the lower layers grew the reused KV cache) is
    retried request by request from the untouched cache tensors: every reply equals its undisturbed run."""
    from steering.hooks import decoder_layers

    jobs = [(PROMPTS[i], {}) for i in range(3)]
    want = [t for t, _, _ in run_all(engine, jobs, same_batch=True, max_tokens=12)]
    calls = {"n": 0}

    def flaky(module, args, output):
        calls["n"] += 1
        hidden = output[0] if isinstance(output, tuple) else output
        if calls["n"] == 6 and hidden.shape[0] > 1:  # a batched decode step (call 1 was the prefill), once
            raise RuntimeError("injected fault in layer 20")

    h = decoder_layers(engine.model)[20].register_forward_hook(flaky)
    try:
        got = run_all(engine, jobs, same_batch=True, max_tokens=12)
    finally:
        h.remove()
    assert calls["n"] > 6
    assert [t for t, _, _ in got] == want
    assert all(finish == "length" for _, _, finish in got)
