"""The README is part of the product: its promises are checked like code."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from saglik.services.fixtures import hes_fixtures

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_test_code_table_matches_the_fixtures_the_server_loads() -> None:
    rows = dict(re.findall(r"^\| ([^|`]+?) \| `([A-Z0-9]{10})` \|$", README, flags=re.M))
    assert rows == {fx.category: fx.code for fx in hes_fixtures()}


def test_ci_runs_the_readme_test_command_unchanged() -> None:
    commands = re.findall(r"```sh\n(python3 -m venv .*?)\n```", README)
    assert len(commands) == 2, "the README must open with exactly two commands"
    test_command = commands[1]
    assert "pytest" in test_command
    ci_script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci_script.splitlines()


def test_ci_script_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(ROOT / ".ci" / "run")], check=True)
