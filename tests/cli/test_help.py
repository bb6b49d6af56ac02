"""``--help`` reads like a command line's help: usage in the conventional form (``USERNAME``, no
type tags such as ``<str>``), and each description whole, wrapped by the terminal and never broken
where the source file happened to break its line."""

from __future__ import annotations

import re
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from saglik.cli.main import app
from tests.cli.test_db import HELP, _command_paths

COMMANDS = get_command(app)


def _command(path: tuple[str, ...]) -> Any:
    command: Any = COMMANDS
    for name in path:
        command = command.commands[name]
    return command


def _help(path: tuple[str, ...], columns: int) -> str:
    done = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": str(columns)})
    assert done.exit_code == 0, done.output
    return done.stdout


def _paragraphs(text: str) -> list[str]:
    """The help's paragraphs as the reader should see them: one line each, inline markup gone."""
    return [" ".join(p.replace("`", "").split()) for p in text.split("\n\n") if p.strip()]


PATHS = sorted(_command_paths(COMMANDS))


def test_every_command_is_checked() -> None:
    assert sorted(HELP) == PATHS


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "saglik")
def test_usage_is_in_the_conventional_form(path: tuple[str, ...]) -> None:
    text = _help(path, 80)
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage
    assert "<" not in usage
    for word in usage.split()[2 + len(path) :]:
        assert word.strip("[].") == word.strip("[].").upper(), usage
    assert re.search(r"<(str|bool|int|float|path|datetime)>", text) is None, text


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "saglik")
def test_descriptions_are_never_broken_mid_sentence(path: tuple[str, ...]) -> None:
    """On a terminal wide enough, each paragraph of a command's help is one line."""
    command = _command(path)
    if not command.help:
        pytest.skip("no help text")  # pragma: no cover - every command has one (HELP)
    wide = [" ".join(line.strip(" │").split()) for line in _help(path, 1000).splitlines()]
    for paragraph in _paragraphs(command.help):
        assert any(paragraph in line for line in wide), paragraph


@pytest.mark.parametrize("path", [p for p in PATHS if _command(p).__dict__.get("commands")])
def test_a_groups_command_list_shows_each_short_help_on_one_line(path: tuple[str, ...]) -> None:
    wide = [" ".join(line.strip(" │").split()) for line in _help(path, 1000).splitlines()]
    for name, sub in _command(path).commands.items():
        summary = _paragraphs(sub.short_help or sub.help or "")[0]
        assert any(line.startswith(name) and summary in line for line in wide), (name, summary)
