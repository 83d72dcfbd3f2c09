"""`steer bench gpu` on the CPU (tiny shape): the graph-captured forward is the model's forward, and the command
writes its table (eager rows only without CUDA). No timing is asserted."""

from __future__ import annotations

import argparse

import torch

from steerlab.bench.gpu import layers_only, random_llama, run_bench_gpu


def test_layers_only_is_the_models_forward():
    model = random_llama("tiny", "cpu", torch.float32)
    ids = torch.randint(0, model.config.vocab_size, (2, 7), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        full = model(input_ids=ids, use_cache=False).logits
    assert torch.allclose(layers_only(model, ids)(), full, atol=1e-5)


def test_bench_gpu_smoke_on_cpu(tmp_path, capsys):
    out = tmp_path / "bench.md"
    args = argparse.Namespace(shape="tiny", device="cpu", dtype="fp32", batch=4, chunk=16, iters=1, out=str(out))
    assert run_bench_gpu(args) == 0
    text = out.read_text()
    assert "| 4 × 1 tokens | eager |" in text and "| 1 × 16 tokens | eager |" in text
    assert "graph" not in text.split("| ratio |")[1].split("\n\n")[0]  # no CUDA: no graph rows
