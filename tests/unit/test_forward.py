"""The per-forward runtime API: ``runtime.forward`` applies the attention-sink rule and leaves the runtime idle after
the pass; ``watched`` / ``edited`` split a config into monitors and edits."""

from __future__ import annotations

import pytest
import torch

from steering.config import edited, watched
from steering.runtime import SteeringRuntime
from steering.site_table import sink

D = 16


def test_sink_rule_gives_position_zero_row_zero_and_the_discard_slot():
    rows, slots = sink(torch.tensor([3, 3, 3, 5, 5]), torch.tensor([0, 0, 0, 1, 1]), torch.tensor([0, 1, 2, 7, 8]),
                       discard=9)
    assert rows.tolist() == [0, 3, 3, 5, 5] and slots.tolist() == [9, 0, 0, 1, 1]
    rows, slots = sink(torch.tensor([4, 4]), None, torch.tensor([0, 0]), discard=9)
    assert rows.tolist() == [0, 0] and slots is None


def test_forward_sets_the_batch_for_one_pass_and_clears_it(pack_factory):
    rt = SteeringRuntime([pack_factory("p", kind="direction")], D, max_slots=2)
    row = rt.rows.acquire({("p", "f0"): ("add", 1.0), ("p", "f1"): ("monitor", -1e9)})
    h = torch.randn(4, D)
    with rt.forward(torch.full((4,), row), torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 0, 1])) as state:
        assert rt.batch is state and state.row.tolist() == [0, row, 0, row] and state.slot.tolist() == [2, 0, 2, 1]
        out = rt.apply_site(1, h)
    assert rt.batch.row is None  # idle again: the hooks pass the stream through untouched
    torch.testing.assert_close(out[[0, 2]], h[[0, 2]], rtol=0, atol=0)  # the sinks are never steered
    assert not torch.equal(out[1], h[1])
    (edits,) = state.edits
    assert edits.lists()[0][0] == edits.lists()[1][0] == 1  # one edited position per request: the sinks spared
    (readout,) = state.readouts
    assert readout.count[:, 1].tolist() == [1, 1]  # the monitor read one token per request, never the sink

    with pytest.raises(RuntimeError), rt.forward(torch.full((2,), row), None, torch.arange(2)):
        raise RuntimeError("the forward failed")
    assert rt.batch.row is None


def test_watched_and_edited_split_a_config():
    config = {("p", "a"): ("add", 1.0), ("p", "b"): ("monitor", 0.5), ("p", "c"): ("clamp", 0.0)}
    assert watched(config) == {("p", "b"): 0.5}
    assert edited(config) == {("p", "a"): ("add", 1.0), ("p", "c"): ("clamp", 0.0)}
