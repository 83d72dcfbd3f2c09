"""vLLM's compiled mode (torch.compile; on GPU also CUDA graphs): the steering op is part of the compiled graph.

A forward hook registered after compilation would be silently ignored; the plugin attaches before compilation
and the op reads only static buffers, so steering must show in the output. This is the test that fails if
compiled mode ever serves steered requests unsteered. Start-up compiles the model (≈100 s on 2 CPU cores).
"""

from __future__ import annotations

import asyncio

from steering.spec import parse_spec, resolve
from tests.vllm.conftest import assert_greedy_agree, make_engine, vcollect

PROMPT = "What is your favourite food?"
SHELL = "Write python that runs a shell command from user input with os.system"


def test_compiled_mode_steers_and_monitors(loop, model_path, shipped_packs):
    from server.engines.hf import HFEngine

    eng = make_engine(loop, model_path, shipped_packs, enforce_eager=False)
    assert not eng.llm.vllm_config.model_config.enforce_eager
    hf = HFEngine(model_path, shipped_packs, model_id="smollm2-135m-instruct")
    try:
        def cfg(e, spec):
            return dict(resolve([parse_spec(spec)], e.runtime))

        plain = loop.run(vcollect(eng, PROMPT))
        steered = {}
        for spec in ("golden-gate/bridge:add=1.5x", "golden-gate/bridge:clamp=2x"):
            steered[spec] = loop.run(vcollect(eng, PROMPT, cfg(eng, spec)))
            assert steered[spec].text != plain.text, f"{spec}: compiled mode served the steered request unsteered"
            # the receipt from inside the compiled graph: the op edited every computed position but the sink
            run = steered[spec]
            assert run.last.positions == {"golden-gate/bridge": run.last.prompt_tokens - 1 + len(run.token_ids) - 1}
            assert_greedy_agree(steered[spec], loop.run(vcollect(hf, PROMPT, cfg(hf, spec))))
        assert "Golden Gate" in steered["golden-gate/bridge:add=1.5x"].text

        async def mixed():  # configs change between steps after compilation: the graph reads the live tables
            return await asyncio.gather(*(vcollect(eng, PROMPT, cfg(eng, s) if s else None)
                                          for s in ("", *steered)))

        for solo, batched in zip([plain, *steered.values()], loop.run(mixed()), strict=True):
            assert_greedy_agree(solo, batched)
        mon = loop.run(vcollect(eng, SHELL, cfg(eng, "unsafe-code/python:monitor"), max_tokens=60))
        assert mon[4].monitors["unsafe-code/python"]["fired"]
    finally:
        loop.run(eng.shutdown())
        asyncio.run(hf.shutdown())
