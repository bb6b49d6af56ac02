"""Loopback ports for the servers tests start, a block of its own for each pytest-xdist worker.

Asking the kernel for a free port and handing it to a server later leaves a window in which
another worker can be handed the same port, and then a test talks to another test's server. Each
worker instead counts through its own block below the kernel's ephemeral range (32768 and up on
Linux), checking each port is free before handing it out.
"""

from __future__ import annotations

import itertools
import os
import socket

BLOCK = 500
FIRST = 12_000
BLOCKS = (32_000 - FIRST) // BLOCK


def _worker_index() -> int:
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(name[2:]) if name[2:].isdigit() else 0


_start = FIRST + BLOCK * (_worker_index() % BLOCKS)
_candidates = itertools.cycle(range(_start, _start + BLOCK))


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now, from this worker's block."""
    for _ in range(BLOCK):
        port = next(_candidates)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {_start}..{_start + BLOCK - 1}")
