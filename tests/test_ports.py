"""Each pytest-xdist worker starts its servers on ports of its own (tests/ports.py)."""

from __future__ import annotations

import os
import socket

from tests.ports import BLOCKS, block_of, free_port


def test_workers_have_disjoint_blocks_below_the_ephemeral_range() -> None:
    blocks = [set(block_of(f"gw{i}")) for i in range(BLOCKS)]
    assert all(a.isdisjoint(b) for i, a in enumerate(blocks) for b in blocks[i + 1 :])
    assert max(max(b) for b in blocks) < 32_768
    assert block_of("master") == block_of("gw0")


def test_a_port_handed_out_is_free_and_of_this_workers_block() -> None:
    mine = block_of(os.environ.get("PYTEST_XDIST_WORKER", "gw0"))
    first = free_port()
    assert first in mine
    taken = first + 1 if first + 1 in mine else mine.start  # the next one it would hand out
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", taken))
        sock.listen()
        second = free_port()
    assert second in mine
    assert second != taken, "a port in use is skipped"
