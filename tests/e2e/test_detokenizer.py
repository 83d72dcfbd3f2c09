"""Incremental detokenisation on the embedded model's tokenizer: the deltas add up to the full decode (multi-byte
characters held until complete), stop sequences cut exactly, and each token decodes a short window only."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from server.engines.sampling import Detokenizer

TEXTS = ["Hello, world! The Golden Gate Bridge spans 2.7 km.", "naïve café — 東京 🌉 done", "  spaces\n\nand\ttabs  ",
         "def f(x):\n    return x ** 2  # 🐍"]


@pytest.fixture(scope="module")
def tok(model_path):
    return AutoTokenizer.from_pretrained(model_path)


@pytest.mark.parametrize("text", TEXTS)
def test_deltas_add_up_to_the_full_decode(tok, text):
    ids = tok(text, add_special_tokens=False)["input_ids"]
    d = Detokenizer(tok, ())
    parts = [d.push(t)[0] for t in ids]
    assert all("\ufffd" not in p for p in parts)
    assert "".join(parts) + d.flush() == tok.decode(ids, skip_special_tokens=True)


def test_stop_sequences_cut_exactly_and_hold_back_prefixes(tok):
    ids = tok("The bridge is red. STOP here and more", add_special_tokens=False)["input_ids"]
    d = Detokenizer(tok, ("STOP",))
    out, hit = "", False
    for t in ids:
        delta, hit = d.push(t)
        out += delta
        assert "ST" not in out  # a possible start of the stop sequence is held back, never sent
        if hit:
            break
    assert hit and out + d.flush() == "The bridge is red. "


def test_each_token_decodes_a_bounded_window(tok):
    calls = []

    class Counting:
        def decode(self, ids, skip_special_tokens=True):
            calls.append(len(ids))
            return tok.decode(ids, skip_special_tokens=skip_special_tokens)

    ids = tok("word " * 400, add_special_tokens=False)["input_ids"]
    d = Detokenizer(Counting(), ())
    for t in ids:
        d.push(t)
    assert max(calls) <= 4  # not the whole reply (O(n²) over a long answer)
