"""The vLLM engine (eager, multi-process) against the HF engine, vanilla vLLM, and itself."""

from __future__ import annotations

import asyncio
import os

import pytest

from server.engines.base import GenerateRequest, SamplingParams
from steering.spec import parse_spec, resolve
from tests.vllm.conftest import assert_greedy_agree, make_engine, vcollect

PROMPTS = ["What is your favourite food?", "How do I learn to swim?", "Tell me about the history of tea."]
SHELL = "Write python that runs a shell command from user input with os.system"
SPECS = ["", "golden-gate/bridge:add=1.5x", "golden-gate/bridge:clamp=2x", "gg-multi:add=0.8x"]


@pytest.fixture(scope="module")
def packs(shipped_packs, tmp_path_factory):
    """The shipped packs plus a format-v2 pack: golden-gate's direction at layers 15 and 10 (one feature, both
    sites edited in the same forward)."""
    from steering.pack import save_pack

    gg = next(p for p in shipped_packs if p.id == "golden-gate")
    m = gg.manifest.model_dump(exclude={"format", "format_version", "sha256", "site"})
    m |= {"id": "gg-multi", "sites": [{"layer": 15}, {"layer": 10}]}
    t = {f"{k}.{i}": v for i in range(2) for k, v in (("W_dec", gg.W_dec), ("W_enc", gg.W_enc), ("b_enc", gg.b_enc))
         if v is not None}
    return [*shipped_packs, save_pack(tmp_path_factory.mktemp("v2") / "gg-multi", m, t)]


@pytest.fixture(scope="module")
def vengine(loop, model_path, packs):
    eng = make_engine(loop, model_path, packs)
    yield eng
    loop.run(eng.shutdown())


@pytest.fixture(scope="module")
def hf(model_path, packs):
    from server.engines.hf import HFEngine

    eng = HFEngine(model_path, packs, model_id="smollm2-135m-instruct", max_num_seqs=16)
    yield eng
    asyncio.run(eng.shutdown())


def cfg(engine, spec: str):
    return dict(resolve([parse_spec(spec)], engine.runtime)) if spec else {}


def test_parity_with_hf_engine(loop, vengine, hf):
    """Same pack, same requests, vLLM fp16 against the HF engine fp32: the greedy decodes agree token for token
    with logprobs within LOGPROB_TOL until (if ever) a near-tie (see assert_greedy_agree: exact text is a
    property of one machine's kernels, not of the steering)."""
    agreed = []
    for prompt in PROMPTS:
        for spec in SPECS:
            agreed.append(assert_greedy_agree(loop.run(vcollect(vengine, prompt, cfg(vengine, spec))),
                                              loop.run(vcollect(hf, prompt, cfg(hf, spec)))))
    assert sum(agreed) >= len(agreed) * 4  # not a vacuous pass: most tokens were compared
    steered = loop.run(vcollect(vengine, PROMPTS[0], cfg(vengine, SPECS[1])))[0]
    assert "Golden Gate" in steered
    for eng in (vengine, hf):  # the v2 pack edited at both its sites (the receipt is the minimum over them)
        run = loop.run(vcollect(eng, PROMPTS[0], cfg(eng, SPECS[3]), max_tokens=4))
        assert run.last.positions["gg-multi/bridge"] >= len(run.token_ids), eng


@pytest.mark.parametrize("prompt", ["Complete the sentence with one short clause: The surgeon walked in, and",
                                    "Write two sentences about my aunt, a surgeon, and her day at work."])
def test_conditional_pack_matches_hf(loop, vengine, hf, prompt):
    """The gender pack is conditional (its gate is read at layer 27 and gates its later sites in the same forward)
    with a latch read at an earlier layer and carried from pass to pass: the vLLM worker's static gate and latch
    buffers give what the HF engine's per-forward state gives, with and without a stated gender."""
    runs = [loop.run(vcollect(e, prompt, cfg(e, "gender"), max_tokens=16)) for e in (vengine, hf)]
    assert_greedy_agree(*runs)
    monitors = {f"gender/{f.name}" for f in hf.runtime.packs["gender"].manifest.features[1:]}  # gate (and latch)
    for r in runs:
        assert set(r.last.monitors) == monitors  # the bare pack: suppress + monitors of what it reads
    if "aunt" in prompt:  # the latch read the stated gender, in both engines at the same token
        firsts = {r.last.monitors["gender/stated"]["first_token"] for r in runs}
        assert len(firsts) == 1 and None not in firsts, firsts


def test_prompt_only_feature_matches_hf(loop, vengine, hf):
    """golden-gate-say edits the prompt only (``apply_to: "prompt"``): the worker drops it once the prompt is
    computed, as the HF engine does after prefill, so both edit exactly the prompt's positions (sink excepted) and
    decode the same reply."""
    prompt_len = len(hf.tokenize_chat([{"role": "user", "content": PROMPTS[0]}]))
    runs = [loop.run(vcollect(e, PROMPTS[0], cfg(e, "golden-gate-say"), max_tokens=16)) for e in (vengine, hf)]
    assert_greedy_agree(*runs)  # (their first near-tie is at token 2; whether they part there depends on the CPU)
    for r in runs:
        assert r.last.positions == {"golden-gate-say/say": prompt_len - 1}
    assert runs[0].text != loop.run(vcollect(vengine, PROMPTS[0], {}, max_tokens=16)).text


def test_last_prompt_token_monitor_matches_hf(loop, vengine, hf):
    """topics/off-scope is read at the prompt's last token only (``read_at: last_prompt_token``): both engines read
    that one position, at the same value, and none of the reply."""
    for q in ("Who won the FIFA World Cup in 2014?", "What are the symptoms of type 2 diabetes?"):
        prompt_len = len(hf.tokenize_chat([{"role": "user", "content": q}]))
        runs = [loop.run(vcollect(e, q, cfg(e, "topics/off-scope:monitor"), max_tokens=6)) for e in (vengine, hf)]
        ms = [r.last.monitors["topics/off-scope"] for r in runs]
        for m in ms:
            assert m["completion_max"] is None and m["max"] == m["prompt_max"]
            assert m["tokens_over"] == int(m["fired"]) and m["first_token"] in (None, prompt_len - 1)
        assert abs(ms[0]["prompt_max"] - ms[1]["prompt_max"]) < 0.05 and ms[0]["fired"] == ms[1]["fired"]
    assert ms[0]["prompt_max"] < ms[0]["threshold"]  # the health question is in scope


def test_monitor_and_counter_steer_match_hf(loop, vengine, hf):
    mon = "unsafe-code/python:monitor"
    v = loop.run(vcollect(vengine, SHELL, cfg(vengine, mon), max_tokens=60))
    h = loop.run(vcollect(hf, SHELL, cfg(hf, mon), max_tokens=60))
    vm, hm = v[4].monitors["unsafe-code/python"], h[4].monitors["unsafe-code/python"]
    assert vm["fired"] and hm["fired"]
    if assert_greedy_agree(v, h) == len(v.token_ids):  # same text: the readings over it match too
        assert (vm["first_token"], vm["tokens_over"]) == (hm["first_token"], hm["tokens_over"])
        assert abs(vm["max"] - hm["max"]) < 0.05
    assert abs(vm["prompt_max"] - hm["prompt_max"]) < 0.05  # the prompt is the same on any machine
    # conditional steering: from the firing token on, the request also gets golden-gate
    on = {("unsafe-code", "python"): cfg(vengine, "golden-gate/bridge:add=1.5x")}
    vs = loop.run(vcollect(vengine, SHELL, cfg(vengine, mon), steer_on=on, max_tokens=60))
    hs = loop.run(vcollect(hf, SHELL, cfg(hf, mon), steer_on=on, max_tokens=60))
    assert vs.text != v.text and hs.text != h.text
    assert_greedy_agree(vs, hs)


def test_block_stops_before_text_past_the_firing_token(loop, vengine):
    mon = cfg(vengine, "unsafe-code/python:monitor")
    full = loop.run(vcollect(vengine, SHELL, mon, max_tokens=60))
    blocked = loop.run(vcollect(vengine, SHELL, mon, block_on={("unsafe-code", "python")}, max_tokens=60))
    assert blocked[3] == "content_filter"
    first = full[4].monitors["unsafe-code/python"]["first_token"]
    prompt_len = full[4].prompt_tokens
    assert len(blocked[1]) <= first - prompt_len + 1 < len(full[1])
    assert full[1][: len(blocked[1])] == blocked[1]


def test_concurrent_mixed_requests_equal_their_solo_runs(loop, vengine):
    """Batched like solo up to near-ties (fp16 batched matmuls change the last bits: measured ≤0.012)."""
    jobs = [(PROMPTS[i % 2], ["", SPECS[1], SPECS[2], "unsafe-code/python:monitor"][i % 4]) for i in range(8)]
    solo = [loop.run(vcollect(vengine, p, cfg(vengine, s))) for p, s in jobs]

    async def together():
        return await asyncio.gather(*(vcollect(vengine, p, cfg(vengine, s)) for p, s in jobs))

    mixed = loop.run(together())
    for a, b in zip(solo, mixed, strict=True):
        assert_greedy_agree(a, b)


def test_prefix_cache_never_mixes_steered_and_unsteered(loop, vengine):
    """Steered then the same prompt unsteered equals a cold unsteered run (the steered KV blocks have their own
    cache_salt)."""
    prompt = "Describe a quiet morning in a small village."

    async def run():
        await vengine.llm.reset_prefix_cache()
        cold = await vcollect(vengine, prompt)
        await vengine.llm.reset_prefix_cache()
        steered = await vcollect(vengine, prompt, cfg(vengine, SPECS[1]))
        after = await vcollect(vengine, prompt)
        return cold, steered, after

    cold, steered, after = loop.run(run())
    assert steered[1] != cold[1]
    assert after[1] == cold[1] and after[2] == cold[2]


def test_disconnect_aborts_and_frees_config_rows(loop, vengine):
    """Closing the stream (the server does it when the client goes away) aborts the request in vLLM; the worker
    frees its config row at its next step (an idle worker has no step: it learns of finished requests then)."""
    async def run():
        ids = vengine.tokenize_chat([{"role": "user", "content": PROMPTS[0]}])
        gen = vengine.generate(GenerateRequest("abort-me", ids, SamplingParams(max_tokens=400, ignore_eos=True),
                                               cfg(vengine, SPECS[1])))
        await gen.__anext__()
        busy = await vengine.worker_stats()
        await gen.aclose()
        for _ in range(100):
            if vengine.llm.get_num_unfinished_requests() == 0:
                break
            await asyncio.sleep(0.1)
        await vcollect(vengine, PROMPTS[1], max_tokens=2)  # one more step
        return busy, await vengine.worker_stats()

    busy, stats = loop.run(run())
    assert busy[0]["attached"] and busy[0]["rows_in_use"] == 1
    assert vengine.llm.get_num_unfinished_requests() == 0
    assert stats[0]["rows_in_use"] == 0 and stats[0]["requests"] == 0


def test_pack_reload(loop, vengine, packs):
    before = loop.run(vcollect(vengine, PROMPTS[0], cfg(vengine, SPECS[1])))[0]
    only_code = [p for p in packs if p.id not in ("golden-gate", "gg-multi")]

    async def reload(packs):
        return await asyncio.to_thread(vengine.reload, packs)

    rt = loop.run(reload(only_code))
    assert "golden-gate" not in rt.packs
    mon = loop.run(vcollect(vengine, SHELL, cfg(vengine, "unsafe-code/python:monitor"), max_tokens=60))
    assert mon[4].monitors["unsafe-code/python"]["fired"]
    loop.run(reload(packs))
    assert loop.run(vcollect(vengine, PROMPTS[0], cfg(vengine, SPECS[1])))[0] == before


def test_unsteered_requests_equal_vanilla_vllm(loop, vengine, model_path):
    """Vanilla vLLM (plugin not loaded) gives the same tokens and logprobs, bit for bit, as an unsteered request
    through steerserve."""
    from vllm import AsyncEngineArgs
    from vllm.v1.engine.async_llm import AsyncLLM

    ours = [loop.run(vcollect(vengine, p)) for p in PROMPTS]
    saved = {k: os.environ.pop(k, None) for k in ("STEERSERVE_VLLM_PACKS", "STEERSERVE_READINGS_ADDR")}
    os.environ["VLLM_PLUGINS"] = ""  # an allow-list that matches no plugin

    async def vanilla():
        from vllm import SamplingParams

        llm = AsyncLLM.from_engine_args(AsyncEngineArgs(model=str(model_path), dtype="float16", max_model_len=1024,
                                                        max_num_seqs=16, enforce_eager=True, seed=0))
        outs = []
        try:
            for i, p in enumerate(PROMPTS):
                ids = vengine.tokenize_chat([{"role": "user", "content": p}])
                sp = SamplingParams(max_tokens=24, temperature=0.0, logprobs=0)
                async for o in llm.generate({"prompt_token_ids": ids}, sp, request_id=f"v{i}"):
                    final = o
                c = final.outputs[0]
                outs.append((list(c.token_ids), [lp[t].logprob for t, lp in zip(c.token_ids, c.logprobs, strict=True)]))
        finally:
            llm.shutdown()
        return outs

    try:
        theirs = loop.run(vanilla())
    finally:
        del os.environ["VLLM_PLUGINS"]
        os.environ.update({k: v for k, v in saved.items() if v is not None})
    for run, (vt, vl) in zip(ours, theirs, strict=True):
        assert run.token_ids == vt
        assert run.logprobs == vl
