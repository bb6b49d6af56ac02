"""Bulk import of persons, HES codes, health events and death forms from CSV or JSON Lines.

An import must lose nothing and must be safe to repeat. So the file is streamed (one bounded line
at a time: a file of any size costs the same memory), every row is validated on its own (a bad
row is set aside with its line number, never a reason to stop), each batch is written in one
transaction by natural key (``store/bulk_repo.py``), and a batch's rejects are appended to the
rejects file only after that batch committed. Killing the process at any instant leaves whole
batches; running the same file again writes what is missing and changes nothing else.

Times without a UTC offset are Europe/Istanbul local time: the operators who prepare these files
work in Türkiye, and death forms (``saglik obs register``) already read them that way.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from saglik.domain.clock import Clock
from saglik.domain.methods import ENVIRONMENTS
from saglik.services.changes import ChangeLog
from saglik.services.import_files import ImportFileError, ImportSource, Raw, default_rejects
from saglik.services.import_rows import DeathParser, RowError, parse_code, parse_event, parse_person
from saglik.store import bulk_repo
from saglik.store.statistics import GrowthAnalyzer, analyze

DEFAULT_BATCH = 5000
"""Rows a transaction: large enough that a networked store's round trips and statement overhead
vanish (PostgreSQL loads a fifth faster than at 1,000; benchmarks/README.md), small enough that a
batch stays a few MB and a crash costs seconds of work."""
REJECTS_HEADER = ("line", "reason")


# --- running ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportProgress:
    bytes_read: int
    total_bytes: int
    rows_read: int
    written: int
    rejected: int
    seconds: float


@dataclass(frozen=True, slots=True)
class ImportSummary:
    kind: str
    env: str
    file: str
    format: str
    rows_read: int
    written: int
    rejected: int
    batches: int
    seconds: float
    rejects_file: Path | None
    """None when no row was rejected (no rejects file is left behind)."""

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0

    def as_log(self) -> dict[str, Any]:
        """What the change log keeps of a run: counts only."""
        return {
            "file": self.file,
            "format": self.format,
            "rows_read": self.rows_read,
            "written": self.written,
            "rejected": self.rejected,
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
        }


ProgressCallback = Callable[[ImportProgress], None]


class _Rejects:
    """The rejects file: ``line,reason``, appended after each batch commits and flushed, so
    after a crash it lists exactly the rejects of the batches that were written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._file = path.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise ImportFileError(
                f"cannot write the rejects file {path}: {exc.strerror or exc}"
            ) from None
        self._writer = csv.writer(self._file)
        self._writer.writerow(REJECTS_HEADER)
        self.count = 0

    def add(self, rejects: Sequence[tuple[int, str]]) -> None:
        if rejects:
            self._writer.writerows(sorted(rejects))
            self.count += len(rejects)
        self._file.flush()

    def close(self) -> Path | None:
        self._file.close()
        if self.count == 0:
            self.path.unlink(missing_ok=True)
            return None
        return self.path


_Batch = list[tuple[int, Raw | RowError]]


def _batches(rows: Iterator[tuple[int, Raw | RowError]], size: int) -> Iterator[_Batch]:
    """Batches of ``size`` rows read (rejected ones included, so memory stays bounded even
    when most rows are bad)."""
    batch: _Batch = []
    for item in rows:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


Parse = Callable[[Raw, datetime], Any]
Write = Callable[[Connection, str, list[Any], datetime], dict[int, str]]


class ImportService:
    def __init__(self, engine: Engine, clock: Clock, changes: ChangeLog) -> None:
        self._engine = engine
        self._clock = clock
        self._changes = changes

    def _plan(self, kind: str, flat: bool) -> tuple[Parse, Write]:
        """How one kind's rows are parsed (with the batch's "now") and written."""
        if kind == "persons":
            return (lambda raw, _now: parse_person(raw)), bulk_repo.upsert_persons
        if kind == "codes":
            return (lambda raw, _now: parse_code(raw)), bulk_repo.upsert_codes
        if kind == "events":
            return (lambda raw, _now: parse_event(raw)), (
                lambda conn, env, rows, _now: bulk_repo.upsert_events(conn, env, rows)
            )
        with self._engine.connect() as conn:
            deaths = DeathParser(bulk_repo.district_plates(conn))
        return (lambda raw, now: deaths(raw, now, flat=flat)), bulk_repo.upsert_deaths

    def run(
        self,
        source: ImportSource,
        env: str,
        *,
        batch_size: int = DEFAULT_BATCH,
        rejects: Path | None = None,
        progress: ProgressCallback | None = None,
    ) -> ImportSummary:
        """Imports every row of ``source`` into ``env``; see the module docstring for what is
        guaranteed when the run is interrupted. Raises ImportFileError before writing anything
        if the run cannot start."""
        if env not in ENVIRONMENTS:
            raise ImportFileError(f"the environment must be one of {', '.join(ENVIRONMENTS)}")
        if batch_size < 1:
            raise ImportFileError("the batch size must be at least 1")
        rejects_path = rejects or default_rejects(source.path)
        if rejects_path.resolve() == source.path.resolve():
            raise ImportFileError("the rejects file must not be the input file")
        parse, write = self._plan(source.kind, source.format == "csv")
        with self._engine.begin() as conn:  # lookups into a table no one ever analyzed
            analyze(conn, bulk_repo.READS.get(source.kind, ()), never_analyzed=True)
        statistics = GrowthAnalyzer(self._engine, bulk_repo.FILLS[source.kind])
        started = time.monotonic()
        rows_read = written = batches = 0
        sink = _Rejects(rejects_path)
        try:
            for batch in _batches(source.rows(), batch_size):
                now = self._clock.now()
                parsed: list[Any] = []
                lines: list[int] = []
                refused: list[tuple[int, str]] = []
                for line, raw in batch:
                    try:
                        if isinstance(raw, RowError):
                            raise raw
                        parsed.append(parse(raw, now))
                        lines.append(line)
                    except RowError as exc:
                        refused.append((line, str(exc)))
                if parsed:
                    with self._engine.begin() as conn:
                        bulk_repo.commit_without_waiting(conn)
                        by_index = write(conn, env, parsed, now)
                    refused.extend((lines[i], reason) for i, reason in by_index.items())
                    written += len(parsed) - len(by_index)
                    statistics.written(len(parsed) - len(by_index))
                sink.add(refused)
                rows_read += len(batch)
                batches += 1
                if progress is not None:
                    progress(
                        ImportProgress(
                            source.bytes_read,
                            source.total_bytes,
                            rows_read,
                            written,
                            sink.count,
                            time.monotonic() - started,
                        )
                    )
        finally:
            kept = sink.close()
        statistics.finish()
        summary = ImportSummary(
            kind=source.kind,
            env=env,
            file=source.path.name,
            format=source.format,
            rows_read=rows_read,
            written=written,
            rejected=sink.count,
            batches=batches,
            seconds=time.monotonic() - started,
            rejects_file=kept,
        )
        with self._engine.begin() as conn:
            self._changes.record(
                conn,
                entity="import",
                action=source.kind,
                env=env,
                target=source.path.name[:200],
                after=summary.as_log(),
            )
        return summary
