"""contract §2: the client depends only on its own wire models, never on the server side."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import saglik.client

CLIENT_DIR = Path(saglik.client.__file__).parent


def test_client_modules_import_nothing_of_saglik_outside_the_client() -> None:
    offenders = []
    for path in sorted(CLIENT_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [
                f"{path.name}: {name}"
                for name in names
                if name.split(".")[0] == "saglik" and not name.startswith("saglik.client")
            ]
    assert offenders == []


def test_importing_the_client_loads_no_server_code() -> None:
    probe = (
        "import sys, saglik.client; "
        "print(sorted(m for m in sys.modules if m.startswith('saglik') "
        "and not m.startswith('saglik.client')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['saglik']"  # the package itself: its __init__ only sets __version__


def test_the_package_is_typed() -> None:
    assert (CLIENT_DIR / "py.typed").is_file()
