"""The README is part of the product: its promises are checked like code."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from saglik.domain.population import generate_population
from saglik.domain.tckn import is_valid_tckn
from saglik.services.demo import tables
from saglik.services.fixtures import hes_fixtures
from saglik.services.obs_fixtures import obs_fixtures

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


def test_the_first_command_installs_the_server_and_serves() -> None:
    first = re.findall(r"```sh\n(python3 -m venv .*?)\n```", README)[0]
    assert "'.[server]'" in first
    assert first.endswith("saglik serve")
    assert "\n" not in first


def test_identity_numbers_in_the_operator_examples_belong_to_nobody() -> None:
    """Checksum-valid, so the examples work; no fixture person, and none of the persons the
    default demo population (seed 1) holds, so following them changes nobody's data."""
    operator_sections = README[README.index("## Operator API") : README.index("## Bulk import")]
    examples = set(re.findall(r"\b\d{11}\b", operator_sections))
    assert "35062481740" in examples
    fixtures = {fx.identity_number for fx in hes_fixtures()}
    fixtures |= {fx.form.identity_number for fx in obs_fixtures() if fx.form.identity_number}
    demo_persons = {
        person.person.identity_number
        for person in generate_population(
            tables(), seed=1, count=10_000, years=5, anchor=datetime(2026, 12, 4, tzinfo=UTC)
        )
    }
    for number in examples:
        assert is_valid_tckn(number), number
        assert number not in fixtures, number
        assert number not in demo_persons, number


def test_no_example_reads_as_a_pipe_that_would_revoke_a_token() -> None:
    for line in README.splitlines():
        assert not re.search(r"saglik token list\s*\|", line), line
