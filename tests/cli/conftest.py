"""CLI test helpers: a fresh SQLite store per test, the Typer runner, and real subprocesses.

The CLI caches its settings and engine (``saglik.cli.context``); every test points
SAGLIK_DATABASE_URL at its own file and clears those caches before and after, so no test sees
another's store.
"""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from saglik.cli import context
from saglik.cli.main import app
from saglik.store.engine import make_engine

SAGLIK = str(Path(sys.executable).with_name("saglik"))
"""The installed console script next to the interpreter running the tests."""


def _reset_cli_caches() -> None:
    if context.engine.cache_info().currsize:
        context.engine().dispose()
    context.engine.cache_clear()
    context.settings.cache_clear()
    context.root.cache_clear()


@dataclass(frozen=True)
class Store:
    path: Path
    url: str

    def engine(self) -> Engine:
        """A separate engine on the same file (not the CLI's cached one)."""
        return make_engine(self.url)


@pytest.fixture
def store_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A not-yet-created SQLite store the CLI will use (SAGLIK_DATABASE_URL points at it)."""
    path = tmp_path / "saglik.db"
    url = f"sqlite:///{path}"
    monkeypatch.setenv("SAGLIK_DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "80")  # what a pipe gets; a test's terminal must not matter
    _reset_cli_caches()
    yield Store(path, url)
    _reset_cli_caches()


@pytest.fixture
def db(store_file: Store) -> Iterator[Engine]:
    """An engine on the test's store, for checking what the CLI wrote."""
    engine = store_file.engine()
    yield engine
    engine.dispose()


def assert_clean(result: Result) -> None:
    """No Python traceback escaped, whatever the exit status."""
    assert "Traceback" not in result.output, result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"unexpected exception: {result.exception!r}") from result.exception


Invoke = Callable[..., Result]


@pytest.fixture
def cli(store_file: Store) -> Invoke:
    """``cli("user", "add", ..., input="...")`` → the runner's result (stdout/stderr apart)."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        result = runner.invoke(app, list(args), input=input, catch_exceptions=True)
        assert_clean(result)
        return result

    return invoke


def assert_error(result: Result, *fragments: str, code: int = 2) -> str:
    """One red ``error:`` line on stderr, nothing on stdout, the given exit status."""
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert result.stdout == ""
    return lines[0]


def run_saglik(
    args: Sequence[str],
    *,
    env_url: str,
    cwd: Path,
    input: str | None = None,
    timeout: float = 60,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """The real ``saglik`` executable, bounded in time."""
    env = {**os.environ, "SAGLIK_DATABASE_URL": env_url, **(extra_env or {})}
    return subprocess.run(
        [SAGLIK, *args],
        cwd=cwd,
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_in_terminal(
    args: Sequence[str], *, env_url: str, cwd: Path, columns: int = 80, timeout: float = 60
) -> str:
    """The real ``saglik`` on a pseudo-terminal ``columns`` wide (what a person sees: Rich sizes
    and folds for a terminal, not for a pipe); returns its output without colour codes."""
    leader, follower = pty.openpty()
    env = {**os.environ, "SAGLIK_DATABASE_URL": env_url, "COLUMNS": str(columns), "TERM": "xterm"}
    proc = subprocess.Popen(
        [SAGLIK, *args], cwd=cwd, env=env, stdin=follower, stdout=follower, stderr=follower
    )
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the process closed its side
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    text = b"".join(chunks).decode("utf-8").replace("\r\n", "\n")
    return ANSI.sub("", text)
