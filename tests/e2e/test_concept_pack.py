"""The ``golden-gate-say`` pack (``apply_to: "prompt"``) through the HF engine: it edits the prompt's positions and
none of the reply's, and the engine writes the reply the offline evaluation (``steering.generate`` with
``positions="prompt"``, what ``steer eval concept`` measures) writes."""

from __future__ import annotations

import asyncio

from steering.generate import generate
from steering.hooks import attach
from steering.runtime import SteeringRuntime
from steering.spec import parse_spec, resolve
from steerlab.cli.common import load_model
from tests.e2e.conftest import NEAR_TIE, vcollect

PROMPT = "Who wrote the novel Pride and Prejudice?"


def test_prompt_only_pack_edits_the_prompt_and_replies_as_the_offline_eval(engine, model_path, shipped_packs):
    pack = next(p for p in shipped_packs if p.id == "golden-gate-say")
    assert pack.manifest.features[0].apply_to == "prompt"
    config = dict(resolve([parse_spec("golden-gate-say")], engine.runtime))  # the bare id: its default add
    steered = asyncio.run(vcollect(engine, PROMPT, config, max_tokens=32, ignore_eos=True))
    plain = asyncio.run(vcollect(engine, PROMPT, {}, max_tokens=32, ignore_eos=True))
    prompt = engine.tokenize_chat([{"role": "user", "content": PROMPT}])
    assert steered.last.positions == {"golden-gate-say/say": len(prompt) - 1}  # every prompt position but the sink
    assert steered.token_ids != plain.token_ids
    assert engine.steering_state() == (0, 1)  # the prompt's row and the reply's were both given back

    model, _ = load_model(model_path)
    rt = SteeringRuntime([pack], model.config.hidden_size)
    with attach(model, rt):
        offline = generate(model, rt, prompt, rt.rows.acquire(config), max_new_tokens=32, eos_ids=set(),
                           positions="prompt")
    # token for token, up to a near-tie of the engine's decode (batched kernels may resolve it either way)
    same, tie = 0, False
    for tok, ours, t in zip(offline, steered.token_ids, steered.trace, strict=True):
        if tok != ours:
            tie = t.top[0][1] - t.top[1][1] < NEAR_TIE
            assert tie, (same, steered.text)
            break
        same += 1
    assert same >= 8 or tie, same  # not vacuous: most tokens compared unless a near-tie came first
