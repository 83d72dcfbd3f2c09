"""A deterministic, seeded training corpus from packaged text: prose of several registers plus code, with the
provenance and licence of every source recorded next to it. Backs ``steer corpus build``.

Why this shape: SAEs and probes learn whatever the text stream over-represents, so the mix is explicit (per-source
weights, code about a quarter by default) and recorded; the same parameters and package versions always give the
byte-identical ``corpus.jsonl``, so a pack trained on it can be reproduced; and the corpus lives in the cache
directory, never in git (it is derived, and several of its licences forbid redistribution).

Budgets are in characters. ``max_tokens_total`` is converted at ``CHARS_PER_TOKEN`` = 4 characters per token, a
rough average for BPE tokenizers on English prose and code; the real token count of a corpus differs by a few tens
of percent depending on the tokenizer.

>>> from steerlab.build.corpus import build_corpus, iter_corpus
>>> m = build_corpus(tmp / "c", sources=["wikipedia", "python-code"], mix=None,  # doctest: +SKIP
...                  max_tokens_total=50_000, progress=False)
>>> next(iter_corpus(tmp / "c")).source in {"wikipedia", "python-code"}  # doctest: +SKIP
True
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import random
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from steering.model import cache_dir
from steerlab.build.sources import Document, SourceInfo, iter_documents, source_info, source_names

log = logging.getLogger(__name__)

FORMAT_VERSION = 1  # bump when chunking, dedup or sampling change: old manifests then no longer match
CHARS_PER_TOKEN = 4
CODE_SHARE = 0.25  # default share of the "code" register; the other registers split the rest evenly
CORPUS_FILE = "corpus.jsonl"
MANIFEST_FILE = "corpus.json"


@dataclass
class SourceStats:
    register: str
    license: str
    origin: str
    weight: float  # normalised mix weight (target share of characters)
    docs: int  # documents (chunks) in the corpus
    chars: int  # characters in the corpus
    pool_docs: int  # chunks available after dedup
    pool_chars: int
    duplicates: int  # chunks dropped as duplicates of an earlier chunk


@dataclass
class CorpusManifest:
    params: dict  # everything the output depends on; equal params + equal sha256 => nothing to rebuild
    sources: dict[str, SourceStats]
    skipped: dict[str, str] = field(default_factory=dict)  # requested but unavailable source -> why
    docs: int = 0
    chars: int = 0
    est_tokens: int = 0  # chars / CHARS_PER_TOKEN
    sha256: str = ""  # of corpus.jsonl

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> CorpusManifest:
        d = json.loads(text)
        d["sources"] = {k: SourceStats(**v) for k, v in d["sources"].items()}
        return cls(**d)


def default_corpus_dir() -> Path:
    return cache_dir() / "corpus"


def default_mix(infos: list[SourceInfo]) -> dict[str, float]:
    """Even across the registers present, code ``CODE_SHARE``; within a register, even across its sources."""
    by_reg: dict[str, list[str]] = {}
    for i in infos:
        by_reg.setdefault(i.register, []).append(i.name)
    prose = [r for r in by_reg if r != "code"]
    reg_w = {r: (1 - CODE_SHARE) / len(prose) if "code" in by_reg else 1 / len(prose) for r in prose}
    if "code" in by_reg:
        reg_w["code"] = CODE_SHARE if prose else 1.0
    return {n: reg_w[r] / len(names) for r, names in by_reg.items() for n in names}


def normalise(text: str) -> str:
    """Dedup key text: case and whitespace differences do not make a new document."""
    return " ".join(text.split()).casefold()


def chunk_text(text: str, max_chars: int) -> list[str]:
    """Split on paragraph (blank line) boundaries, then lines, then spaces, packing pieces up to ``max_chars``;
    only a single unbroken run longer than ``max_chars`` is cut mid-word. Leading indentation is kept (code)."""
    chunks = (c.rstrip().lstrip("\n") for c in _split(text.strip("\n"), max_chars))
    return [c for c in chunks if c.strip()]


def _split(text: str, max_chars: int) -> list[str]:
    if len(text) <= max_chars:
        return [text]
    sep = next((s for s in ("\n\n", "\n", " ") if s in text), None)
    if sep is None:
        return [text[i:i + max_chars] for i in range(0, len(text), max_chars)]
    out: list[str] = []
    for p in (p for piece in text.split(sep) for p in _split(piece, max_chars)):
        if out and len(out[-1]) + len(sep) + len(p) <= max_chars:
            out[-1] += sep + p
        else:
            out.append(p)
    return out


def allocate(avail: dict[str, int], weights: dict[str, float], budget: int | None) -> dict[str, int]:
    """Characters to take per source: ``budget`` split by weight, and what a short source cannot supply goes to the
    others in proportion (water-filling), so the budget is met whenever the sources hold enough. No budget: all."""
    if budget is None:
        return dict(avail)
    alloc = dict.fromkeys(avail, 0)
    active, remaining = {n for n in avail if weights[n] > 0 and avail[n] > 0}, budget
    while active and remaining > 0:
        wsum = sum(weights[n] for n in active)
        share = {n: remaining * weights[n] / wsum for n in active}
        short = {n for n in active if avail[n] <= share[n]}
        if not short:
            alloc |= {n: int(share[n]) for n in active}
            break
        for n in short:
            alloc[n], remaining = avail[n], remaining - avail[n]
        active -= short
    return alloc


def _resolve(sources: list[str] | None, mix: dict[str, float] | None) -> tuple[list[SourceInfo], dict[str, str], dict]:
    names = list(sources) if sources is not None else (list(mix) if mix else source_names())
    known = set(source_names())
    unknown = sorted(set(names) - known) + sorted(set(mix or {}) - known)
    if unknown:
        raise ValueError(f"unknown text source(s) {unknown}; known: {sorted(known)}")
    if mix is not None and set(mix) != set(names):
        raise ValueError(f"mix must give a weight for exactly the selected sources {sorted(set(names))}")
    if mix is not None and (any(w < 0 for w in mix.values()) or sum(mix.values()) <= 0):
        raise ValueError("mix weights must be >= 0 with a positive sum")
    infos = [source_info(n) for n in sorted(set(names))]
    skipped = {i.name: i.note for i in infos if not i.available}
    infos = [i for i in infos if i.available and (mix is None or mix[i.name] > 0)]
    if not infos:
        raise ValueError(f"no selected text source is available: {skipped}")
    weights = default_mix(infos) if mix is None else {i.name: mix[i.name] for i in infos}
    total = sum(weights.values())
    return infos, skipped, {n: round(w / total, 6) for n, w in sorted(weights.items())}


def _pool(name: str, max_chars: int, seen: set[bytes], progress: bool) -> tuple[list[Document], int]:
    """All of a source's chunks not seen before (any source), in source order, and the count of duplicates."""
    pool, dups = [], 0
    for doc in tqdm(iter_documents(name), desc=f"corpus: {name}", unit="doc", disable=not progress, leave=False):
        chunks = chunk_text(doc.text, max_chars)
        for k, chunk in enumerate(chunks):
            key = hashlib.sha1(normalise(chunk).encode()).digest()
            if key in seen:
                dups += 1
                continue
            seen.add(key)
            pool.append(Document(name, f"{doc.doc_id}#{k}" if len(chunks) > 1 else doc.doc_id, chunk))
    return pool, dups


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _atomic_write(path: Path, write) -> None:
    """Write through a temp file in the same directory, then rename: readers see the old file or the new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def build_corpus(out_dir: Path, *, sources: list[str] | None = None, mix: dict[str, float] | None = None,
                 max_tokens_total: int | None = None, max_chars_per_doc: int = 4000, seed: int = 0,
                 progress: bool = True) -> CorpusManifest:
    """Build ``out_dir/corpus.jsonl`` (one ``{"source", "doc_id", "text"}`` per line) and ``out_dir/corpus.json``.

    ``sources``: registered names (default: every source, or the keys of ``mix``); unavailable ones are skipped and
    listed in ``manifest.skipped``. ``mix``: relative weights per source (default ``default_mix``), the target shares
    of characters when there is a budget. ``max_tokens_total``: budget in tokens at ``CHARS_PER_TOKEN``; ``None``
    takes all available text (the mix then only records the weights). Each source may overshoot its share by less
    than one document. Documents are chunked to ``max_chars_per_doc`` characters and deduplicated across sources
    (sha1 of case/whitespace-normalised text, first source in name order wins); each source's chunks are shuffled
    with ``seed`` before its share is taken, and the corpus is shuffled again with ``seed``. Returns the existing
    manifest untouched when parameters, source versions and the corpus hash all match.
    """
    if max_chars_per_doc < 1 or (max_tokens_total is not None and max_tokens_total < 0):
        raise ValueError("max_chars_per_doc must be >= 1 and max_tokens_total >= 0")
    out_dir = Path(out_dir)
    infos, skipped, weights = _resolve(sources, mix)
    for name, note in skipped.items():
        log.warning("corpus: skipping unavailable source %s: %s", name, note)
    params = {"format": FORMAT_VERSION, "sources": {i.name: i.origin for i in infos}, "mix": weights,
              "skipped": sorted(skipped), "max_tokens_total": max_tokens_total,
              "max_chars_per_doc": max_chars_per_doc, "seed": seed, "chars_per_token": CHARS_PER_TOKEN}
    corpus_path, manifest_path = out_dir / CORPUS_FILE, out_dir / MANIFEST_FILE
    if manifest_path.is_file() and corpus_path.is_file():
        try:
            old = CorpusManifest.from_json(manifest_path.read_text(encoding="utf-8"))
        except (ValueError, TypeError, KeyError):
            old = None
        if old is not None and old.params == params and old.sha256 == _sha256(corpus_path):
            log.info("corpus: %s is up to date", corpus_path.name)
            return old

    seen: set[bytes] = set()  # sha1 digests of normalised chunks, shared so dedup works across sources
    pools, dups = {}, {}
    for i in infos:
        pools[i.name], dups[i.name] = _pool(i.name, max_chars_per_doc, seen, progress)
    budget = None if max_tokens_total is None else max_tokens_total * CHARS_PER_TOKEN
    targets = allocate({n: sum(len(d.text) for d in p) for n, p in pools.items()}, weights, budget)

    picked: list[Document] = []
    stats: dict[str, SourceStats] = {}
    for i in infos:
        pool = list(pools[i.name])
        random.Random(f"{seed}:{i.name}").shuffle(pool)  # str seeds are stable across runs and PYTHONHASHSEED
        taken, chars = [], 0
        for d in pool:
            if chars >= targets[i.name]:
                break
            taken.append(d)
            chars += len(d.text)
        picked += taken
        stats[i.name] = SourceStats(i.register, i.license, i.origin, weights[i.name], len(taken), chars,
                                    len(pool), sum(len(d.text) for d in pool), dups[i.name])
    random.Random(seed).shuffle(picked)

    out_dir.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()

    def write_corpus(f) -> None:
        for d in tqdm(picked, desc="corpus: write", unit="doc", disable=not progress, leave=False):
            line = json.dumps({"source": d.source, "doc_id": d.doc_id, "text": d.text}, ensure_ascii=False) + "\n"
            h.update(line.encode("utf-8"))
            f.write(line)

    _atomic_write(corpus_path, write_corpus)
    total = sum(s.chars for s in stats.values())
    manifest = CorpusManifest(params, stats, skipped, len(picked), total, total // CHARS_PER_TOKEN, h.hexdigest())
    _atomic_write(manifest_path, lambda f: f.write(manifest.to_json()))
    return manifest


def iter_corpus(out_dir: Path) -> Iterator[Document]:
    """Stream a built corpus in its stored (shuffled) order."""
    path = Path(out_dir) / CORPUS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {CORPUS_FILE} in the corpus directory; run `steer corpus build` first")
    with path.open(encoding="utf-8") as f:
        for line in f:
            yield Document(**json.loads(line))
