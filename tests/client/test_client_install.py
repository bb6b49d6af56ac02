"""The plain install is the SDK alone (README "Installing"): in a fresh virtualenv, installing this
repository without extras gives a working ``saglik.client`` and none of the server's
dependencies, and the ``saglik`` command says what to install instead of failing obscurely."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SERVER_ONLY = {
    "alembic",
    "argon2-cffi",
    "granian",
    "limits",
    "psycopg",
    "psycopg-binary",
    "pydantic-settings",
    "rich",
    "sqlalchemy",
    "starlette",
    "typer",
    "uvicorn",
}
"""Distributions the server needs and a client must not be made to install."""


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _run(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("client-only") / "venv"
    made = _run(sys.executable, "-m", "venv", venv)
    assert made.returncode == 0, made.stderr
    installed = _run(venv / "bin" / "pip", "install", "-q", ROOT, timeout=900)
    assert installed.returncode == 0, installed.stderr
    return venv


def test_the_plain_install_brings_none_of_the_servers_dependencies(client_venv: Path) -> None:
    listed = _run(client_venv / "bin" / "pip", "list", "--format=json")
    assert listed.returncode == 0, listed.stderr
    names = {_canonical(item["name"]) for item in json.loads(listed.stdout)}
    assert {"saglik", "httpx", "pydantic", "tenacity"} <= names
    assert names & SERVER_ONLY == set()


def test_the_plain_install_imports_and_uses_the_client(client_venv: Path) -> None:
    probe = (
        "from saglik.client import HesClient, ObsClient, SANDBOX_TEST, normalize_code\n"
        "with HesClient(SANDBOX_TEST, 'u', 'p') as hes:\n"
        "    print(hes.base_url, normalize_code('a1s1-0001 s1'))\n"
    )
    done = _run(client_venv / "bin" / "python", "-c", probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["http://127.0.0.1:8080/services/g2g/test/saglik", "A1S10001S1"]


def test_the_command_of_a_client_install_says_what_to_install(client_venv: Path) -> None:
    done = _run(client_venv / "bin" / "saglik", "--help")
    assert done.returncode == 2
    assert "pip install 'saglik[server]'" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_the_wheel_carries_the_shipped_data(client_venv: Path) -> None:
    probe = (
        "from importlib.resources import files\n"
        "data = files('saglik.data')\n"
        "print(len(data.joinpath('districts.csv').read_text('utf-8').splitlines()))\n"
        "print(data.joinpath('LICENSE.turkiye-api.txt').read_text('utf-8').splitlines()[0])\n"
    )
    done = _run(client_venv / "bin" / "python", "-c", probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["974", "MIT License"]
