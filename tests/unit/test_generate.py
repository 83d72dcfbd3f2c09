"""The offline generation loop steers exactly the positions it is asked to (``all`` / ``generated`` / ``prompt``)."""

from __future__ import annotations

import pytest

from steering.generate import generate
from steering.hooks import attach
from steering.pack import ModelInfo
from steering.runtime import SteeringRuntime
from tests.unit.test_hooks import D, L, tiny


class RowLog:
    """Records, per forward pass at the steered layer, which config row each position ran with."""

    def __init__(self, rt: SteeringRuntime) -> None:
        self.seen: list[list[int]] = []
        self._apply = rt.apply_site
        rt.apply_site = self  # type: ignore[method-assign]
        self.rt = rt

    def __call__(self, layer, h):
        self.seen.append(self.rt.batch.row.flatten().tolist())
        return self._apply(layer, h)


@pytest.mark.parametrize(("positions", "prompt_rows", "decode_row"),
                         [("all", [0, 1, 1, 1], 1), ("generated", [0, 0, 0, 0], 1), ("prompt", [0, 1, 1, 1], 0)])
def test_positions(positions, prompt_rows, decode_row, pack_factory):
    model = tiny("llama")
    info = ModelInfo(name="tiny", architecture="llama", d_model=D, num_layers=L)
    rt = SteeringRuntime([pack_factory("p", kind="direction", n_features=1, layer=1, model=info)], D)
    r = rt.rows.acquire({("p", "f0"): ("add", 4.0)})
    assert r == 1
    log = RowLog(rt)
    with attach(model, rt):
        out = generate(model, rt, [1, 5, 7, 9], r, max_new_tokens=3, eos_ids=set(), positions=positions)
    assert len(out) == 3
    assert log.seen[0] == prompt_rows  # the sink (position 0) is never steered
    assert log.seen[1:] == [[decode_row]] * 3  # each generated token is fed back once


def test_generated_only_keeps_the_first_token_and_prompt_only_changes_the_reply(pack_factory):
    """The first token is predicted from the prompt alone: with the prompt unsteered (``generated``) it is the
    unsteered one; steering only the prompt (``prompt``) changes the reply although no written token is steered."""
    model = tiny("llama")
    info = ModelInfo(name="tiny", architecture="llama", d_model=D, num_layers=L)
    rt = SteeringRuntime([pack_factory("p", kind="direction", n_features=1, layer=1, model=info)], D)
    r = rt.rows.acquire({("p", "f0"): ("add", 50.0)})
    prompt = [1, 5, 7, 9, 11, 13]
    with attach(model, rt):
        base = generate(model, rt, prompt, 0, max_new_tokens=4, eos_ids=set())
        gen_only = generate(model, rt, prompt, r, max_new_tokens=4, eos_ids=set(), positions="generated")
        prompt_only = generate(model, rt, prompt, r, max_new_tokens=4, eos_ids=set(), positions="prompt")
    assert gen_only[0] == base[0]
    assert prompt_only != base


def test_unknown_positions_is_refused(pack_factory):
    model = tiny("llama")
    rt = SteeringRuntime([], D)
    with pytest.raises(ValueError, match="positions"):
        generate(model, rt, [1, 2], 0, max_new_tokens=1, eos_ids=set(), positions="decode")
