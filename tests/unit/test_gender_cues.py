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


class ChatTokenizer:
    """Just enough of a chat tokenizer: SmolLM2's template shape, with a system prompt."""

    def apply_chat_template(self, messages, add_generation_prompt, tokenize):
        assert add_generation_prompt and not tokenize
        turns = [{"role": "system", "content": "You are a helpful assistant."}, *messages]
        return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in turns) + "<|im_start|>assistant\n"


def _turns(p) -> tuple[str, str]:
    """(user turn, reply prefix) of a chat prompt."""
    user, reply = p.text[p.start:].split("<|im_end|>\n<|im_start|>assistant\n")
    return user, reply


def test_chat_cue_prompts_state_the_gender_in_the_user_turn_only():
    """The latch's chat fit data: the cue sits in the user turn (where `start` points), never in the system prompt or
    the reply prefix; unstated twins state nothing anywhere; no held-out word; seeded."""
    from steerlab.build.gender_cues import chat_cue_prompts
    from steerlab.build.gender_latch import cue_pattern

    tok, pattern = ChatTokenizer(), cue_pattern()
    prompts = chat_cue_prompts(tok)
    targets = [p.target for p in prompts]
    assert all(p.chat for p in prompts) and {" she", " he", None} == set(targets)
    assert min(targets.count(" she"), targets.count(" he")) >= 1.5 * targets.count(None)
    for p in prompts:
        user, reply = _turns(p)
        assert p.text.startswith("<|im_start|>system\n") and p.text.endswith(reply)
        assert not pattern.search(reply) and not pattern.search(p.text[: p.start]), p.text
        assert bool(pattern.search(user)) == (p.target is not None), user
    held = {w for split in ("dev", "test") for pair in bias_data.GENDERED_PAIRS[split] for w in pair}
    held |= {n for split in ("dev", "test") for pair in bias_data.STATED_NAMES[split] for n in pair}
    assert not {w for p in prompts for w in re.findall(r"[A-Za-z]+", p.text)} & held
    assert chat_cue_prompts(tok) == prompts


def test_chat_stated_prompts_use_only_their_own_splits_people():
    """The dev sweep's chat prompts name dev people only (distinct per frame), with one unstated twin each."""
    tok = ChatTokenizer()
    prompts = bias_data.chat_stated_prompts(tok, "dev")
    fit = {n for pair in bias_data.STATED_NAMES["fit"] for n in pair} | set(bias_data.STATED_KIN["fit"])
    dev = {n for pair in bias_data.STATED_NAMES["dev"] for n in pair} | set(bias_data.STATED_KIN["dev"])
    dev |= set(bias_data.STATED_TITLES["dev"])
    users = [_turns(p)[0] for p in prompts]
    assert not [u for u in users if any(re.search(rf"\b{re.escape(n)}\b", u, re.I) for n in fit)]
    stated = [u for u, p in zip(users, prompts, strict=True) if p.target]
    assert all(any(n.lower() in u.lower() for n in dev) for u in stated)
    assert len(set(zip(users, [p.target for p in prompts], strict=True))) == len(prompts)  # no repeats


def test_chat_heldout_items_become_template_plus_reply_prefix():
    """A chat-form hand-written set (set D) becomes the template up to the assistant turn plus the reply prefix;
    reports show it as 'user turn → reply prefix'. (Builds prompts only; measures nothing.)"""
    from steerlab.eval.bias import heldout_prompts, shown
    from steerlab.eval.data import gender_heldout_d as D

    occ, stated = heldout_prompts(ChatTokenizer(), D)
    assert len(occ) == len(D.OCCUPATIONS) * len(D.OCCUPATION_ITEMS) and len(stated) == len(D.STATED_ITEMS)
    (user, prefix, target), p = D.STATED_ITEMS[0], stated[0]
    assert p.chat and p.target == target and _turns(p) == (user, prefix)
    assert shown(p) == f"{user} → {prefix}"


def test_chat_kin_prompts_state_the_gender_by_a_kinship_noun_only():
    """The dev sweep's kinship column: the only cue is a kinship noun at the start of a long user turn (no name,
    title or pronoun), each frame with a stated prompt of each gender and an unstated twin."""
    from steerlab.build.gender_latch import cue_pattern

    kin = {w.split()[1] for pair in bias_data.CHAT_KIN["dev"] for w in pair}
    tok, listed, nouns = ChatTokenizer(), cue_pattern(), re.compile(rf"\b(?:{'|'.join(kin)})\b", re.I)
    prompts = bias_data.chat_kin_prompts(tok, "dev")
    assert len(prompts) == 3 * len(bias_data.CHAT_KIN_FRAMES["dev"]) * 10
    for p in prompts:
        user, reply = _turns(p)
        cues = sorted({m.group(0).lower() for pattern in (listed, nouns) for m in pattern.finditer(user)})
        assert len(cues) <= 1 and set(cues) <= kin, user
        assert (p.target is None) == (not cues) and len(user) > 150 and not listed.search(reply)
        if cues:
            assert user.lower().index(cues[0]) < 20  # early in the turn


def test_all_words_latch_reads_the_held_out_splits_words_too():
    """The shipped latch's refit (decision 72): with ``all_words`` the cue pattern and the fit prompts draw on the dev
    and test splits' nouns and names, which the sweep's latches never see."""
    from steerlab.build.gender_cues import cue_prompts, noun_pairs
    from steerlab.build.gender_latch import cue_pattern

    text = "My uncle and the bride met Julia"
    assert not cue_pattern().search(text)
    assert [m.group(0) for m in cue_pattern(all_words=True).finditer(text)] == ["uncle", "bride", "Julia"]
    assert ("aunt", "uncle") in noun_pairs(all_words=True) and ("aunt", "uncle") not in noun_pairs()
    words = {w for p in cue_prompts(all_words=True) for w in re.findall(r"[a-z]+", p.text)}
    assert {"uncle", "niece", "groom"} & words and not {"uncle", "niece", "groom"} & {
        w for p in cue_prompts() for w in re.findall(r"[a-z]+", p.text)}
