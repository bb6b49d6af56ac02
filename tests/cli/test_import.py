"""``saglik import``: exit statuses (0 written, 1 rejects, 2 usage), one red line for a file that
cannot be imported, the help that documents the columns, the progress bar on a terminal, and a
real ``kill -9`` in the middle of an import: whole batches survive, the store is intact, and
running the same file again completes it with every row exactly once."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import pty
import select as selectors
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import DBAPIError

from saglik.domain.tckn import complete_tckn
from saglik.services.import_rows import COLUMNS
from saglik.store.schema import death_forms, operator_changes, persons
from tests.cli.conftest import SAGLIK, Invoke, Store, assert_error, run_saglik
from tests.services.obs_support import valid_form
from tests.store.backends import backend_of, blank_engine

PAST = "2025-01-10T08:30:00"  # the CLI runs on the system clock: a death safely in the past


def numbers(n: int, start: int = 0) -> list[str]:
    """Distinct checksum-valid T.C. numbers."""
    return [complete_tckn(str(100_000_000 + 7 * (start + i))) for i in range(n)]


def persons_csv(path: Path, ids: list[str]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("identity_number,first_name,last_name,consent_test\n")
        for number in ids:
            f.write(f"{number},Ayşe Gül,Yıldırım,evet\n")
    return path


def count(engine: Engine, table=persons) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_an_import_that_writes_every_row_exits_0(
    cli: Invoke, db: Engine, tmp_path: Path, store_file: Store
) -> None:
    path = persons_csv(tmp_path / "people.csv", numbers(3))
    result = cli("import", "persons", str(path), "--env", "test")
    assert result.exit_code == 0, result.output
    assert "written" in result.stdout
    assert " 3 " in result.stdout
    assert "rows rejected" not in result.stdout
    assert result.stderr == ""
    assert count(db) == 3
    assert not (tmp_path / "people.csv.rejects.csv").exists()
    with db.connect() as conn:
        entity, action, env, target = conn.execute(
            select(
                operator_changes.c.entity,
                operator_changes.c.action,
                operator_changes.c.env,
                operator_changes.c.target,
            )
        ).one()
    assert (entity, action, env, target) == ("import", "persons", "test", "people.csv")


def test_rejected_rows_exit_1_and_the_summary_names_the_rejects_file(
    cli: Invoke, db: Engine, tmp_path: Path
) -> None:
    good = numbers(2)
    path = tmp_path / "people.csv"
    path.write_text(
        "identity_number,first_name,last_name\n"
        f"{good[0]},Ayşe,Yıldırım\n"
        "12345678901,Fatma,Kaya\n"
        f"{good[1]},,Kaya\n",
        encoding="utf-8",
    )
    result = cli("import", "persons", str(path))
    assert result.exit_code == 1, result.output
    rejects = tmp_path / "people.csv.rejects.csv"
    assert "2 rows rejected" in result.stdout
    assert str(rejects) in result.stdout.replace("\n", "")
    assert count(db) == 1
    with rejects.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert [r[0] for r in rows] == ["line", "3", "4"]
    text = rejects.read_text("utf-8") + result.output
    for value in ("12345678901", "Fatma", "Kaya", "FATMA", "KAYA", *good):
        assert value not in text


def test_rejects_option_and_format_option(cli: Invoke, db: Engine, tmp_path: Path) -> None:
    [number] = numbers(1)
    path = tmp_path / "export.txt"
    path.write_text(
        json.dumps({"identity_number": number, "first_name": "a", "last_name": ""}) + "\n",
        encoding="utf-8",
    )
    target = tmp_path / "bad-rows.csv"
    result = cli(
        "import", "persons", str(path), "--format", "jsonl", "--rejects", str(target),
        "--batch-size", "1",
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert target.read_text("utf-8").splitlines()[1].startswith("1,")


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("identity_number,first_name\n", ("missing required column last_name",)),
        ("identity_number,first_name,last_name,age\n", ("unknown column at header position 4",)),
        ("12345678901,Ayşe,Yıldırım\n", ("unknown columns", "header line")),
    ],
)
def test_a_file_with_wrong_columns_is_one_red_line_and_exit_2(
    cli: Invoke, tmp_path: Path, store_file: Store, content: str, fragments: tuple[str, ...]
) -> None:
    path = tmp_path / "people.csv"
    path.write_text(content, encoding="utf-8")
    line = assert_error(cli("import", "persons", str(path)), *fragments)
    for value in ("12345678901", "Ayşe", "Yıldırım"):
        assert value not in line
    assert not store_file.path.exists(), "nothing may be written for a usage error"


def test_an_unreadable_file_is_one_red_line_and_exit_2(
    cli: Invoke, tmp_path: Path, store_file: Store
) -> None:
    assert_error(cli("import", "codes", str(tmp_path / "nope.csv")), "cannot read", "nope.csv")
    assert_error(cli("import", "codes", str(tmp_path), "--format", "csv"), "cannot read")


def test_an_unknown_extension_needs_format(cli: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "people.xlsx"
    path.write_bytes(b"PK")
    assert_error(cli("import", "persons", str(path)), "--format csv|jsonl")


def test_an_unwritable_rejects_file_is_a_usage_error(cli: Invoke, tmp_path: Path) -> None:
    path = persons_csv(tmp_path / "p.csv", numbers(1))
    result = cli("import", "persons", str(path), "--rejects", str(tmp_path / "no" / "r.csv"))
    assert_error(result, "cannot write the rejects file")


@pytest.mark.parametrize(
    "args",
    [
        ("--batch-size", "0"),
        ("--env", "prod"),
        ("--format", "xml"),
    ],
)
def test_bad_options_exit_2(cli: Invoke, tmp_path: Path, args: tuple[str, ...]) -> None:
    path = persons_csv(tmp_path / "p.csv", numbers(1))
    result = cli("import", "persons", str(path), *args)
    assert result.exit_code == 2, result.output


def test_deaths_through_the_cli(cli: Invoke, db: Engine, tmp_path: Path) -> None:
    assert cli("refdata", "import").exit_code == 0
    forms = [
        {"form_no": "5000000001", "referans_no": "ABCD2345", **valid_form(died_at=PAST)},
        {"form_no": "5000000002", "referans_no": "ABCD2346", **valid_form(died_at=PAST)},
    ]
    path = tmp_path / "deaths.jsonl"
    path.write_text("".join(json.dumps(f) + "\n" for f in forms), encoding="utf-8")
    for _ in range(2):
        result = cli("import", "deaths", str(path))
        assert result.exit_code == 0, result.output
    assert count(db, death_forms) == 2


# --- help ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["persons", "codes", "events", "deaths"])
def test_help_explains_the_columns(cli: Invoke, store_file: Store, kind: str) -> None:
    result = cli("import", kind, "--help")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    for column in COLUMNS[kind].all:
        if kind != "deaths" or column in ("form_no", "referans_no", "registered_at", "causes"):
            assert column in text, column
    for phrase in ("Europe/Istanbul", "rejects", "--batch-size", "--rejects", "--format", "kill"):
        assert phrase in text, phrase
    assert not store_file.path.exists(), "--help must not touch the store"


def test_import_help_lists_the_kinds(cli: Invoke) -> None:
    result = cli("import", "--help")
    assert result.exit_code == 0
    for kind in ("persons", "codes", "events", "deaths"):
        assert kind in result.stdout


# --- a terminal --------------------------------------------------------------------------------


def test_a_terminal_sees_a_progress_bar_and_the_summary(store_file: Store, tmp_path: Path) -> None:
    path = persons_csv(tmp_path / "p.csv", numbers(3_000))
    main, secondary = pty.openpty()
    env = {**os.environ, "SAGLIK_DATABASE_URL": store_file.url, "COLUMNS": "120"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [SAGLIK, "import", "persons", str(path), "--batch-size", "100"],
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary,
        env=env,
        cwd=tmp_path,
    )
    os.close(secondary)
    output = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = selectors.select([main], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the process closed the terminal
                break
            if not chunk:
                break
            output += chunk
        elif proc.poll() is not None:
            break
    os.close(main)
    assert proc.wait(timeout=30) == 0
    text = output.decode("utf-8", "replace")
    assert "100%" in text
    assert "rows/s" in text
    assert "3,000" in text


# --- kill -9 -----------------------------------------------------------------------------------

BIG_ROWS = 120_000
BATCH = 500


@pytest.fixture
def target(store: Engine, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """An empty, unmigrated database (the CLI migrates it) on each backend, and its URL."""
    with blank_engine(backend_of(store), tmp_path, migrated=False) as engine:
        yield engine.url.render_as_string(hide_password=False), engine


def _persons_now(url: str, engine: Engine) -> int | None:
    """Rows committed so far, or None while the table does not exist yet."""
    if url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"), timeout=5)) as c:
            try:
                return int(c.execute("SELECT count(*) FROM persons").fetchone()[0])
            except sqlite3.OperationalError:
                return None
    try:
        return count(engine)
    except DBAPIError:  # the schema is being created
        return None


def test_kill_9_mid_import_leaves_whole_batches_and_a_rerun_completes_it(
    target: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = target
    ids = numbers(BIG_ROWS)
    path = persons_csv(tmp_path / "big.csv", ids)
    proc = subprocess.Popen(
        [SAGLIK, "import", "persons", str(path), "--batch-size", str(BATCH)],
        cwd=tmp_path,
        env={**os.environ, "SAGLIK_DATABASE_URL": url},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not _persons_now(url, engine):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
            assert time.monotonic() < deadline, "no batch was committed within 60 s"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()

    if url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    survived = count(engine)
    assert 0 < survived < BIG_ROWS, "the kill must land mid-import"
    assert survived % BATCH == 0, f"{survived} rows is not a whole number of batches"
    assert count(engine, operator_changes) == 0  # the run never finished

    rerun = run_saglik(
        ["import", "persons", str(path), "--batch-size", str(BATCH)],
        env_url=url,
        cwd=tmp_path,
        timeout=300,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert "Traceback" not in rerun.stderr
    with engine.connect() as conn:
        total, distinct = conn.execute(
            select(func.count(), func.count(persons.c.identity_number.distinct()))
        ).one()
        stored = set(conn.execute(select(persons.c.identity_number)).scalars())
    assert total == distinct == BIG_ROWS
    assert stored == set(ids)
    assert not (tmp_path / "big.csv.rejects.csv").exists()
    assert count(engine, operator_changes) == 1
