"""A ``SAGLIK_ICD_NAMES`` file that cannot be used stops every command at start-up, ``saglik
serve`` included, with one red line naming the file and the line: never a traceback, never a
server that shows English titles for codes the operator believes named."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Invoke, Store, assert_error, run_saglik
from tests.ports import free_port

BAD = "code,name\nI21.9,Akut miyokard enfarktüsü\nI21.9,Yine\n"


def bad_file(tmp_path: Path) -> Path:
    path = tmp_path / "icd-tr.csv"
    path.write_text(BAD, encoding="utf-8")
    return path


def test_a_command_stops_with_one_red_line_naming_the_file_and_the_line(
    cli: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = bad_file(tmp_path)
    monkeypatch.setenv("SAGLIK_ICD_NAMES", str(path))
    assert_error(
        cli("db", "current"),
        "SAGLIK_ICD_NAMES",
        f"{path}, line 3: I21.9 is listed again (first on line 2)",
    )


def test_serve_stops_before_listening(store_file: Store, tmp_path: Path) -> None:
    path = bad_file(tmp_path)
    served = run_saglik(
        ["serve", "--port", str(free_port())],
        env_url=store_file.url,
        cwd=tmp_path,
        extra_env={"SAGLIK_ICD_NAMES": str(path), "COLUMNS": "80"},
    )
    assert served.returncode == 2, served.stderr
    assert served.stdout == ""
    [line] = served.stderr.splitlines()
    assert line.startswith("error: invalid setting: SAGLIK_ICD_NAMES: ")
    assert line.endswith(f"{path}, line 3: I21.9 is listed again (first on line 2)")
    assert not store_file.path.exists()  # stopped before touching the store


def test_a_good_file_is_accepted(
    cli: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "icd-tr.csv"
    path.write_text("I21.9,Akut miyokard enfarktüsü\n", encoding="utf-8")
    monkeypatch.setenv("SAGLIK_ICD_NAMES", str(path))
    assert cli("db", "current").exit_code == 0
