"""The gender gate's word-list cues: both sexes, unstated twins, and nothing that bias_data holds out for dev/test."""

from __future__ import annotations

import re

from steerlab.build import bias_data
from steerlab.build.gender_cues import cue_prompts, first_names, noun_pairs


def test_first_names_are_disjoint_and_miss_the_held_out_names():
    female, male = first_names()
    assert len(female) > 200 and len(male) > 200
    assert not set(female) & set(male)
    held = {n for split in ("dev", "test") for pair in bias_data.STATED_NAMES[split] for n in pair}
    assert not (set(female) | set(male)) & held


def test_noun_pairs_are_person_nouns_without_the_held_out_ones():
    pairs = noun_pairs()
    assert ("woman", "man") in pairs and ("grandmother", "grandfather") in pairs
    held = {w for split in ("dev", "test") for pair in bias_data.GENDERED_PAIRS[split] for w in pair}
    assert not {w for p in pairs for w in p} & held
    assert not {w for p in pairs for w in p} & {"monastery", "estrogen", "he", "she"}


def test_cue_prompts_state_both_genders_and_have_unstated_twins():
    prompts = cue_prompts()
    targets = [p.target for p in prompts]
    assert {" she", " he", None} == set(targets)
    assert min(targets.count(" she"), targets.count(" he")) > 0.3 * targets.count(None)
    held = {w for split in ("dev", "test") for pair in bias_data.GENDERED_PAIRS[split] for w in pair}
    held |= {n for split in ("dev", "test") for pair in bias_data.STATED_NAMES[split] for n in pair}
    words = {w for p in prompts for w in re.findall(r"[A-Za-z]+", p.text)}
    assert not words & held, words & held
    for p in prompts:  # no stated cue in an unstated twin
        if p.target is None:
            assert not re.search(r"\b(she|he|her|his|herself|himself|Mrs?|Ms|Miss|Sir|Dame)\b", p.text), p.text
    assert cue_prompts() == prompts  # seeded


def test_latch_labels_mark_cue_words_and_leave_out_what_follows():
    """The latch probe's token labels: tokens of a listed gendered word are positive, tokens before the first one
    negative, tokens after it (and the attention sink) left out; words bias_data holds out are not listed."""
    from steerlab.build.gender_latch import cue_pattern, token_labels

    pattern = cue_pattern()
    for word in ("Emma", "sister", "Mrs", "his", "herself", "Sir"):
        assert pattern.search(f"x {word} y"), word
    held = {w for split in ("dev", "test") for pair in bias_data.GENDERED_PAIRS[split] for w in pair}
    held |= {n for split in ("dev", "test") for pair in bias_data.STATED_NAMES[split] for n in pair}
    assert not [w for w in held if pattern.search(f"x {w} y")]
    assert not pattern.search("The nurse said that the engineer (emmanuel) was late")  # whole words only
    text = "The pilot and his dog ran"
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]  # one token per word, for the test
    assert token_labels(words, text, pattern) == [-1, 0, 0, 1, -1, -1]
    assert token_labels(words[:3], "The pilot and", pattern) == [-1, 0, 0]
