"""Tensor parallel on the CPU build: vLLM with ``tensor_parallel_size=2`` (one core per rank) steers exactly like
TP=1. Every rank sees the full residual stream after the all-reduce and applies the same delta; only rank 0
reports readings, so a request's monitor arrives once (a second reporter would double ``tokens_over``).

SmolLM2-135M has 9 attention heads, which vLLM cannot split over 2 ranks ("Total number of attention heads (9)
must be divisible by tensor parallel size (2)"), so this runs a tiny randomly initialised Llama (8 heads) with
SmolLM2's tokenizer and two test packs of one random direction each (a one-site pack and a two-site v2 pack):
what is compared is the steering plumbing across ranks, not what the model says."""

from __future__ import annotations

import os

import pytest
import torch

from steering.pack import ModelInfo, save_pack
from tests.vllm.conftest import assert_greedy_agree, vcollect

pytestmark = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="TP=2 on CPU needs two cores (one per rank)")
D = 256
CONFIGS = ({}, {("dir", "d"): ("add", 1.0)}, {("multi", "d"): ("add", 1.0), ("dir", "d"): ("monitor", 0.0)})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, model_path):
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    root = tmp_path_factory.mktemp("tp")
    tok = AutoTokenizer.from_pretrained(model_path)
    cfg = LlamaConfig(hidden_size=D, intermediate_size=512, num_hidden_layers=4, num_attention_heads=8,
                      num_key_value_heads=4, vocab_size=len(tok), max_position_embeddings=1024,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, tie_word_embeddings=True)
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).to(torch.float16).save_pretrained(root / "model")
    tok.save_pretrained(root / "model")
    info = ModelInfo(name="tiny", architecture="LlamaForCausalLM", d_model=D, num_layers=4)
    v = torch.randn(1, D, generator=torch.Generator().manual_seed(1))
    base = {"version": "1", "model": info.model_dump(), "encoder": {"kind": "direction"}, "title": "test"}
    feat = {"name": "d", "index": 0, "label": "random test direction", "max_activation": 1.0, "threshold": 0.0}
    packs = [save_pack(root / "dir", {**base, "id": "dir", "site": {"layer": 2}, "features": [feat]}, {"W_dec": 3 * v}),
             save_pack(root / "multi", {**base, "id": "multi", "sites": [{"layer": 1}, {"layer": 3}],
                                        "features": [feat]}, {"W_dec.0": 3 * v, "W_dec.1": -2 * v})]
    return root / "model", packs


async def _engine(path, packs, tp: int):
    from server.engines.vllm import VLLMEngine

    # on the loop thread: AsyncLLM binds its output handler to the running loop
    return VLLMEngine(path, packs, model_id="tiny", max_num_seqs=4, max_model_len=256, tensor_parallel_size=tp)


def _runs(loop, eng) -> list:
    return [loop.run(vcollect(eng, "Hello there, how are you?", c, max_tokens=12)) for c in CONFIGS]


def test_tp2_steers_like_tp1_and_reports_monitors_once(loop, tiny, monkeypatch):
    path, packs = tiny
    results = {}
    for tp in (1, 2):
        if tp == 2:
            monkeypatch.setenv("VLLM_CPU_OMP_THREADS_BIND", "0|1")  # one core per rank
        eng = loop.run(_engine(path, packs, tp))
        try:
            results[tp] = _runs(loop, eng)
        finally:
            loop.run(eng.shutdown())
    (_, add1, multi1), (plain2, add2, multi2) = results[1], results[2]
    for a, b in zip(results[1], results[2], strict=True):  # the same greedy decode (up to a near-tie)
        assert_greedy_agree(a, b)
    assert add2.token_ids != plain2.token_ids and multi2.token_ids != plain2.token_ids  # steering changed them
    m1, m2 = multi1.last.monitors["dir/d"], multi2.last.monitors["dir/d"]
    assert m2["fired"] and abs(m2["max"] - m1["max"]) < 0.05
    if multi1.token_ids == multi2.token_ids:  # same text: readings reported once (a second rank would double them)
        assert (m2["first_token"], m2["tokens_over"]) == (m1["first_token"], m1["tokens_over"])
    for r1, r2, ref in ((add1, add2, "dir/d"), (multi1, multi2, "multi/d")):  # receipts, counted on rank 0 only
        assert r2.last.positions[ref] > 0
        if r1.token_ids == r2.token_ids:
            assert r2.last.positions == r1.last.positions
