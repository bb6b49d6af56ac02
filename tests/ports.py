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


def block_of(worker: str) -> range:
    """The ports of the worker named ``worker`` (``gw0``, ``gw1``, …; anything else: the first)."""
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    start = FIRST + BLOCK * (index % BLOCKS)
    return range(start, start + BLOCK)


_block = block_of(os.environ.get("PYTEST_XDIST_WORKER", "gw0"))
_candidates = itertools.cycle(_block)


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
    raise RuntimeError(f"no free port in {_block.start}..{_block.stop - 1}")
