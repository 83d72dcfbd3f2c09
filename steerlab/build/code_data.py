"""Labelled Python code for unsafe-code monitors: insecure vs ordinary lines, grouped by source file.

Sources (all offline, from registries):
- bandit's own example files (PyPI sdist ``bandit==1.9.4``, ``examples/``), labelled line by line by *running
  bandit* on them: lines bandit flags at MEDIUM/HIGH severity are insecure, the other code lines ordinary;
  import-only findings (B4xx) and ``assert`` (B101) are ignored;
- codeshield's semgrep fixtures (PyPI ``codeshield==1.0.1``): the line after ``# ruleid:`` is insecure, after
  ``# ok:`` safe (matched pairs from the same file).
Comments are stripped before the model sees the code, so ``# bad`` / ``# ruleid`` notes cannot leak the label.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import tokenize
from dataclasses import dataclass
from pathlib import Path

from steerlab.build.data import package_dir

BANDIT_SDIST = "bandit==1.9.4"
IGNORED_TESTS = ("B1", "B4")  # B101 assert, B4xx import blacklists: not insecure code by themselves


@dataclass
class CodeFile:
    source: str  # "bandit-examples" | "codeshield"
    name: str
    lines: list[str]  # comment-stripped source lines
    labels: list[int | None]  # 1 insecure, 0 ordinary, None = blank / not a code line


def strip_comments(code: str) -> str:
    """Remove ``#`` comments (keeps line numbering); falls back to the original text if it does not tokenize."""
    out = code.splitlines()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type == tokenize.COMMENT:
                row, col = tok.start
                out[row - 1] = out[row - 1][:col].rstrip()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return code
    return "\n".join(out)


def bandit_examples(cache: Path) -> Path:
    """Download (once) and unpack bandit's sdist; return its examples/ directory."""
    target = cache / "bandit-1.9.4" / "examples"
    if target.is_dir():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q", "-d",
                    str(cache), BANDIT_SDIST], check=True)
    with tarfile.open(next(cache.glob("bandit-1.9.4.tar.gz"))) as tf:
        members = [m for m in tf.getmembers() if m.name.startswith("bandit-1.9.4/examples/") and m.isfile()]
        tf.extractall(cache, members=members, filter="data")
    return target


def bandit_findings(directory: Path, severities: tuple[str, ...] = ("MEDIUM", "HIGH"),
                    ignored: tuple[str, ...] = IGNORED_TESTS) -> dict[str, set[int]]:
    """Lines bandit flags at ``severities``, per file name (bandit is also the baseline detector)."""
    r = subprocess.run([sys.executable, "-m", "bandit", "-q", "-f", "json", "-r", str(directory)],
                       capture_output=True, text=True)
    found: dict[str, set[int]] = {}
    for res in json.loads(r.stdout)["results"]:
        if res["issue_severity"] in severities and not res["test_id"].startswith(ignored):
            found.setdefault(Path(res["filename"]).name, set()).update(res["line_range"])
    return found


def codeshield_dir() -> Path:
    return package_dir("codeshield") / "insecure_code_detector" / "rules" / "semgrep" / "python"


def _labelled(source: str, name: str, code: str, bad: set[int], good: set[int] | None) -> CodeFile:
    lines = strip_comments(code).splitlines()
    labels: list[int | None] = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            labels.append(None)
        elif i in bad:
            labels.append(1)
        elif good is None or i in good:
            labels.append(0)
        else:
            labels.append(None)
    return CodeFile(source, name, lines, labels)


def load_bandit_examples(cache: Path) -> list[CodeFile]:
    d = bandit_examples(cache)
    flagged = bandit_findings(d)
    files = []
    for f in sorted(d.glob("*.py")):
        code = f.read_text(errors="replace")
        if code.strip():
            files.append(_labelled("bandit-examples", f.name, code, flagged.get(f.name, set()), None))
    return files


def load_codeshield() -> list[CodeFile]:
    root = codeshield_dir()
    files = []
    for f in sorted(root.glob("*.py")):
        raw = f.read_text().splitlines()
        bad = {i + 2 for i, line in enumerate(raw) if "# ruleid:" in line}
        good = {i + 2 for i, line in enumerate(raw) if "# ok:" in line}
        files.append(_labelled("codeshield", f.name, "\n".join(raw), bad, good))
    return files
