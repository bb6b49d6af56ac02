"""Reading an import file as a stream of (line number, raw row) pairs, CSV or JSON Lines.

One bounded physical line at a time, so a file of any size costs the same memory; a malformed
record is handed on as a ``RowError`` at its line, so reading never stops at a bad row.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from saglik.services.import_rows import (
    BAD_ESCAPE,
    BAD_TEXT,
    COLUMNS,
    KINDS,
    RowError,
    clean,
    known_keys,
)

FORMATS = ("csv", "jsonl")
EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
LINE_LIMIT = 1 << 20
"""Characters per physical line; a longer line is rejected, never held in memory whole."""


class ImportFileError(ValueError):
    """The file cannot be imported at all (unreadable, unknown format, wrong header): a usage
    error, reported before anything is written."""


# --- reading ---------------------------------------------------------------------------------

Raw = Mapping[str, Any]
"""One row as read: CSV cells (text) or a JSON object."""


class _LineTooLong(Exception):
    pass


class _Lines:
    """Physical lines of at most LINE_LIMIT characters. A longer line is skipped to its end and
    reported by raising _LineTooLong from ``__next__``; being a plain iterator (not a generator,
    which an exception would end), it goes on with the next line afterwards, and so does the
    csv reader reading from it."""

    def __init__(self, text: IO[str]) -> None:
        self._text = text
        self.number = 0
        """Physical lines read so far, the skipped ones included."""

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self._text.readline(LINE_LIMIT)
        if not line:
            raise StopIteration
        self.number += 1
        if len(line) == LINE_LIMIT and not line.endswith(("\n", "\r")):
            while (rest := self._text.readline(LINE_LIMIT)) and not rest.endswith(("\n", "\r")):
                pass
            raise _LineTooLong
        return line


class ImportSource(contextlib.AbstractContextManager["ImportSource"]):
    """An open import file: the header already checked, rows read on demand.

    Use :func:`open_source`. ``rows()`` yields ``(line, row or RowError)`` one row at a time;
    ``line`` is the physical line where the row starts (1 = the CSV header line)."""

    def __init__(self, path: Path, kind: str, fmt: str, binary: IO[bytes]) -> None:
        self.path, self.kind, self.format = path, kind, fmt
        self._binary = binary
        self.total_bytes = os.fstat(binary.fileno()).st_size
        # surrogateescape: an undecodable byte becomes a rejected row, not a stopped import.
        self._text = io.TextIOWrapper(
            binary, encoding="utf-8-sig", errors="surrogateescape", newline=""
        )
        self.columns = COLUMNS[kind]
        self._header: list[str] = []
        self._csv: Any = None
        self._lines = _Lines(self._text)
        if fmt == "csv":
            self._open_csv()

    @property
    def bytes_read(self) -> int:
        """How far into the file reading has got (by the byte; for progress)."""
        return self._binary.tell()

    def __exit__(self, *exc: object) -> None:
        self._text.close()

    def _open_csv(self) -> None:
        self._csv = csv.reader(self._lines, strict=True)
        try:
            header = next(self._csv)
        except StopIteration:
            raise ImportFileError(
                f"{self.path.name} is empty (a CSV file starts with its header)"
            ) from None
        except (csv.Error, _LineTooLong):
            raise ImportFileError(f"{self.path.name}: the header line is not valid CSV") from None
        self._header = [name.strip() for name in header]
        self._check_header()

    def _check_header(self) -> None:
        """Columns are named in messages by position only: a file without its header line
        would otherwise have its first row's values (personal data) echoed."""
        known = set(self.columns.all)
        expected = f"a {self.kind} file has the columns {', '.join(self.columns.all)}"
        seen: dict[str, int] = {}
        for position, name in enumerate(self._header, start=1):
            if name in seen:
                raise ImportFileError(
                    f"{self.path.name}: header column {position} repeats column {seen[name]}"
                )
            seen[name] = position
        unknown = [str(p) for p, name in enumerate(self._header, start=1) if name not in known]
        if unknown:
            raise ImportFileError(
                f"{self.path.name}: unknown column{'s' if len(unknown) > 1 else ''} at header "
                f"position {', '.join(unknown)} ({expected}; does the file start with its "
                "header line?)"
            )
        missing = [name for name in self.columns.required if name not in seen]
        if missing:
            raise ImportFileError(
                f"{self.path.name}: missing required column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} ({expected})"
            )

    def rows(self) -> Iterator[tuple[int, Raw | RowError]]:
        return self._csv_rows() if self.format == "csv" else self._json_rows()

    def _csv_rows(self) -> Iterator[tuple[int, Raw | RowError]]:
        reader, width = self._csv, len(self._header)
        while True:
            start = self._lines.number + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                end = self._lines.number
                span = f" (lines {start}-{end} read as one record)" if end > start else ""
                yield start, RowError(f"not valid CSV: {exc}{span}")
                continue
            except _LineTooLong:
                yield start, RowError(f"a line is longer than {LINE_LIMIT} characters")
                continue
            if not values:
                continue  # a blank line
            if len(values) != width:
                yield start, RowError(f"has {len(values)} values, the header has {width}")
                continue
            row = dict(zip(self._header, values, strict=True))
            if BAD_TEXT.search("\x1f".join(values)) is None:  # the common case, in one pass
                yield start, row
                continue
            try:
                yield start, clean(row)
            except RowError as exc:
                yield start, exc

    def _json_rows(self) -> Iterator[tuple[int, Raw | RowError]]:
        lines = self._lines
        while True:
            number = lines.number + 1
            try:
                line = next(lines)
            except StopIteration:
                return
            except _LineTooLong:
                yield number, RowError(f"the line is longer than {LINE_LIMIT} characters")
                continue
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except (ValueError, RecursionError) as exc:
                yield number, RowError(f"not valid JSON: {str(exc)[:120]}")
                continue
            try:
                yield number, self._json_row(value, line)
            except RowError as exc:
                yield number, exc

    def _json_row(self, value: Any, line: str) -> Raw:
        if not isinstance(value, dict):
            raise RowError("not a JSON object")
        if BAD_ESCAPE.search(line) or BAD_TEXT.search(line):
            clean(value)
        known_keys(value, self.columns.all, "")
        return value


def format_of(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise ImportFileError(f"unknown format {fmt!r} (csv or jsonl)")
        return fmt
    found = EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise ImportFileError(
            f"cannot tell the format of {path.name} from its extension: give --format csv|jsonl"
        )
    return found


def open_source(path: Path, kind: str, fmt: str | None = None) -> ImportSource:
    """Opens ``path`` and checks what can be checked before any row is written."""
    if kind not in KINDS:
        raise ImportFileError(f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
    chosen = format_of(path, fmt)
    try:
        binary = path.open("rb")
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return ImportSource(path, kind, chosen, binary)
    except BaseException:
        binary.close()
        raise


def default_rejects(path: Path) -> Path:
    return path.with_name(path.name + ".rejects.csv")
