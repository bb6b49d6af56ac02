"""The ``saglik`` command.

Only the server install (``pip install 'saglik[server]'``) has what the command needs; the plain
install is the SDK (``saglik.client``). Its console script still exists there, so it says what
to install instead of ending in an ImportError's traceback.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from saglik.cli.main import app
    except ModuleNotFoundError as exc:
        if not exc.name or exc.name.split(".")[0] == "saglik":
            raise
        sys.stderr.write(
            f"saglik: this install is the Python client only ({exc.name} is missing); the "
            "command needs the server install: pip install 'saglik[server]'\n"
        )
        raise SystemExit(2) from None
    app()
