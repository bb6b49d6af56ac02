"""The repository stands alone: a clone has nothing beside it, so no test, script or document
of the project reads, runs or links anything outside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIPPED_DIRS = {".git", ".venv", "venv", "build", "dist", "__pycache__", ".mypy_cache"}
SKIPPED_DIRS |= {".pytest_cache", ".ruff_cache", ".hypothesis"}
TEXT_SUFFIXES = {".py", ".md", ".toml", ".yaml", ".yml", ".txt", ".cfg", ".ini", ".sh", ".json"}

OUTSIDE = [
    re.compile(r"\.\./shared"),
    re.compile(r"""["']shared["']\s*/"""),  # Path(...) / "shared" / ...
    re.compile(r"\bROOT\.parent\b"),
    re.compile(r"parents\[\d\]\s*/\s*[\"']shared"),
]


def _project_files() -> list[Path]:
    found = [ROOT / ".ci" / "run"]
    for path in ROOT.rglob("*"):
        if any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in path.parts):
            continue
        if path.is_file() and path.suffix in TEXT_SUFFIXES:
            found.append(path)
    return sorted(found)


def _files_mentioning_outside() -> list[str]:
    hits = []
    for path in _project_files():
        if path == Path(__file__).resolve():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        hits += [f"{path.relative_to(ROOT)}: {p.pattern}" for p in OUTSIDE if p.search(text)]
    return hits


def test_no_file_reaches_outside_the_repository() -> None:
    assert _files_mentioning_outside() == []


@pytest.mark.parametrize(
    "line",
    [
        'DISTRICTS = ROOT.parent / "shared" / "refdata" / "tr_districts.csv"',
        "saglik refdata import ../shared/refdata/tr_districts.csv",
        'Path(__file__).resolve().parents[2] / "shared" / "refdata"',
    ],
)
def test_the_check_catches_the_ways_a_file_reached_outside(line: str) -> None:
    assert any(p.search(line) for p in OUTSIDE)


MARKDOWN_LINK = re.compile(r"\]\((?!https?://|mailto:|#)([^)#\s]+)(?:#[^)]*)?\)")


def test_every_relative_link_in_the_docs_names_a_file_of_the_repository() -> None:
    broken = []
    for path in _project_files():
        if path.suffix != ".md":
            continue
        for target in MARKDOWN_LINK.findall(path.read_text(encoding="utf-8")):
            resolved = (path.parent / target).resolve()
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                broken.append(f"{path.relative_to(ROOT)} → {target}")
    assert broken == []
