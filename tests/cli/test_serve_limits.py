"""``saglik serve`` against slow, idle and oversized clients (issue 11), over real sockets.

Each test starts the real process as the README does and reproduces one finding on a small scale
(thousands of sockets, not tens of thousands) while a prober makes normal calls on fresh
connections at a constant rate and times them. The server's memory and descriptors are read from
/proc for its whole process tree (granian's main process and its workers).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import resource
import select
import selectors
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from saglik.cli import serve as serve_module
from saglik.web.request_limits import MAX_HEADER_BYTES
from tests.cli import test_serve
from tests.cli.test_serve import FIXTURE_CODES, HES_TEST, _credentials, _wait_for_stdout
from tests.process_support import Served

HEADER_DEADLINE = serve_module.HEADER_DEADLINE_SECONDS
SLACK = 3.0
"""Seconds allowed past a deadline: the server's timers and this machine's load."""
P99_LIMIT = 0.100
RSS_GROWTH_LIMIT = 50 * 1024 * 1024
RISKSIZ = FIXTURE_CODES["Risksiz"]

serve = test_serve.serve
"""``serve(*args)`` starts ``saglik serve`` on the test's store, ready (the other serve tests')."""


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (granian's workers are its children)."""
    found = [pid]
    for parent in found:
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
            found.extend(int(child) for child in children)
    return found


def _rss(served: Served) -> int:
    total = 0
    for pid in _tree(served.proc.pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def _fds(served: Served) -> int:
    total = 0
    for pid in _tree(served.proc.pid):
        with contextlib.suppress(OSError):
            total += len(os.listdir(f"/proc/{pid}/fd"))
    return total


class Prober:
    """Normal calls (``check-employee-hes-code``, a new connection each) at a constant rate in a
    thread; a call that fails or takes more than 5 s counts as infinitely slow."""

    def __init__(self, served: Served, auth: tuple[str, str], per_second: float = 20) -> None:
        self.url = f"{served.base_url}{HES_TEST}/check-employee-hes-code"
        self.auth = auth
        self.interval = 1 / per_second
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _call(self, client: httpx.Client) -> float:
        started = time.perf_counter()
        try:
            reply = client.post(self.url, json={"hes_code": RISKSIZ}, auth=self.auth)
        except httpx.HTTPError as exc:
            self.failures.append(repr(exc))
            return float("inf")
        elapsed = time.perf_counter() - started
        if reply.status_code != 200:
            self.failures.append(f"{reply.status_code} {reply.text[:200]}")
            return float("inf")
        return elapsed

    def _run(self) -> None:
        limits = httpx.Limits(max_keepalive_connections=0)  # every call a new client's
        with httpx.Client(timeout=5, limits=limits) as client:
            next_call = time.monotonic()
            while not self._stop.is_set():
                self.latencies.append(self._call(client))
                next_call += self.interval
                self._stop.wait(max(0.0, next_call - time.monotonic()))

    def warm_up(self) -> None:
        """The first call verifies the password (Argon2id); later ones hit the cache."""
        with httpx.Client(timeout=10) as client:
            for _ in range(3):
                assert self._call(client) < 10, self.failures

    @contextlib.contextmanager
    def running(self) -> Iterator[Prober]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=10)

    def p99(self) -> float:
        assert len(self.latencies) >= 50, self.latencies
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[98]


def _started(serve, *args: str) -> tuple[Served, Prober]:
    served = serve(*args)
    _wait_for_stdout(served, "username: sandbox")
    prober = Prober(served, _credentials(served.out))
    prober.warm_up()
    return served, prober


def _connect(served: Served) -> socket.socket:
    host, port = served.base_url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _closed_after(sockets: list[socket.socket], opened: float, limit: float) -> list[float]:
    """Seconds from ``opened`` until the server closed each socket (``inf``: still open at
    ``limit``). Whatever the server sends before closing is read and ignored."""
    closed = [float("inf")] * len(sockets)
    with selectors.DefaultSelector() as selector:
        for index, sock in enumerate(sockets):
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, index)
        while selector.get_map() and time.monotonic() - opened < limit:
            for key, _ in selector.select(timeout=0.2):
                try:
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    closed[key.data] = time.monotonic() - opened
                    selector.unregister(key.fileobj)
    return closed


def _status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else 0


def _header(reply: bytes, name: bytes) -> bytes | None:
    for line in reply.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


def _exchange(served: Served, request: bytes) -> bytes:
    """Sends ``request`` whole and returns what comes back until the server closes or pauses;
    a server that stops reading part-way still gets its answer read."""
    with _connect(served) as sock:
        with contextlib.suppress(OSError):  # refused part-way: the answer may still be there
            sock.sendall(request)
        reply = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in reply or len(reply) < 64:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
        return reply


def test_idle_and_half_sent_connections_are_closed_at_the_header_deadline(serve) -> None:
    """F1: sockets that send nothing, half a request line, or nothing after a first request
    cost the server little while they last, never keep it from answering, and are closed when
    the header deadline runs out (10 s), not before."""
    served, prober = _started(serve)
    rss_before = _rss(served)
    opened = time.monotonic()
    sockets = [_connect(served) for _ in range(2400)]
    for sock in sockets[1::2]:
        sock.sendall(b"GET /healthz HT")
    kept_alive = _connect(served)
    kept_alive.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert _status(kept_alive.recv(4096)) == 200
    sockets.append(kept_alive)

    with prober.running():
        time.sleep(5)
    assert prober.p99() < P99_LIMIT, sorted(prober.latencies)[-5:]
    assert _rss(served) - rss_before < RSS_GROWTH_LIMIT

    closed = _closed_after(sockets, opened, HEADER_DEADLINE + SLACK)
    for sock in sockets:
        sock.close()
    assert max(closed) <= HEADER_DEADLINE + SLACK, "a socket was still open past the deadline"
    assert min(closed) >= HEADER_DEADLINE - 1, "closed before its deadline"
    assert served.proc.poll() is None


def test_a_worker_holds_at_most_its_cap_and_later_clients_wait_their_turn(
    serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SAGLIK_MAX_CONNECTIONS: past the cap a worker accepts nothing more, so its descriptors
    stay bounded however many clients come; a later client's connection waits in the listen
    queue and is answered once the header deadline has cleared the idle ones: late, never hung."""
    cap = 200
    monkeypatch.setenv("SAGLIK_MAX_CONNECTIONS", str(cap))
    served, prober = _started(serve)
    fds_before = _fds(served)
    opened = time.monotonic()
    sockets = [_connect(served) for _ in range(cap + 50)]
    time.sleep(1)  # all accepted that will be
    assert cap - 5 <= _fds(served) - fds_before <= cap + 5

    with httpx.Client(timeout=HEADER_DEADLINE + SLACK) as client:
        reply = client.post(prober.url, json={"hes_code": RISKSIZ}, auth=prober.auth)
    waited = time.monotonic() - opened
    assert reply.status_code == 200
    assert HEADER_DEADLINE - 1 <= waited <= HEADER_DEADLINE + SLACK
    assert _fds(served) - fds_before <= cap + 5
    for sock in sockets:
        sock.close()


def test_header_blocks_over_64_kib_get_431_and_a_flood_of_them_costs_no_memory(serve) -> None:
    """F2: the limit is exact (request line and header fields, as sent); a 16 MiB header is
    refused, not answered; 100 connections sending 4 MiB of unterminated headers are cut off
    early, and normal calls are answered meanwhile."""
    served, prober = _started(serve)

    def with_header_block(size: int) -> bytes:
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: "
        return head + b"a" * (size - len(head) - 4) + b"\r\n\r\n"

    exact = _exchange(served, with_header_block(MAX_HEADER_BYTES))
    assert _status(exact) == 200, exact[:200]
    assert _header(exact, b"server") in (None, b""), "the server's name must not show"
    assert _status(_exchange(served, with_header_block(MAX_HEADER_BYTES + 1))) == 431
    assert _status(_exchange(served, with_header_block(16 * 1024 * 1024))) in (431, 0)
    fields = b"".join(b"X-%d: 1\r\n" % i for i in range(101))
    assert _status(_exchange(served, b"GET /healthz HTTP/1.1\r\n" + fields + b"\r\n")) == 431

    flood = b"GET /healthz HTTP/1.1\r\nX-Pad: " + b"a" * (4 * 1024 * 1024)

    def unterminated() -> float:
        started = time.monotonic()
        with _connect(served) as sock, contextlib.suppress(OSError):
            sock.sendall(flood)
            while sock.recv(65536):
                pass
        return time.monotonic() - started

    rss_before = _rss(served)
    with prober.running(), ThreadPoolExecutor(max_workers=20) as pool:
        cut_off = list(pool.map(lambda _: unterminated(), range(100)))
        while len(prober.latencies) < 60:  # a p99 of the calls during and just after
            time.sleep(0.1)
    assert max(cut_off) < 5
    assert _rss(served) - rss_before < RSS_GROWTH_LIMIT
    assert prober.p99() < P99_LIMIT, sorted(prober.latencies)[-5:]


def test_a_body_not_complete_within_the_body_deadline_gets_408_and_a_close(
    serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deadline runs from the headers to the body's last byte: a body that stops and a body
    trickled a byte at a time are both cut off at it; one that arrives in time is served."""
    body_seconds = 3
    monkeypatch.setenv("SAGLIK_BODY_TIMEOUT_SECONDS", str(body_seconds))
    served, prober = _started(serve)
    body = json.dumps({"hes_code": RISKSIZ}).encode()
    credential = base64.b64encode(":".join(prober.auth).encode()).decode()

    def send_slowly(
        pause: float, pieces: int, connection: str = "keep-alive"
    ) -> tuple[float, bytes]:
        """``pieces`` bytes of the body, ``pause`` s apart, until the server answers; then
        what it sends until it closes, and the seconds from the headers to the close."""
        head = (
            f"POST {HES_TEST}/check-employee-hes-code HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Basic {credential}\r\nConnection: {connection}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        with _connect(served) as sock:
            started = time.monotonic()
            sock.sendall(head)
            for piece in body[:pieces]:
                sock.sendall(bytes([piece]))
                if select.select([sock], [], [], pause)[0]:
                    break
            sock.settimeout(body_seconds + SLACK)
            reply = b""
            with contextlib.suppress(TimeoutError):
                while chunk := sock.recv(65536):
                    reply += chunk
            return time.monotonic() - started, reply

    for pause, pieces in ((body_seconds + SLACK, 1), (0.25, len(body) - 1)):
        took, reply = send_slowly(pause, pieces)
        assert _status(reply) == 408, reply[:300]
        assert body_seconds - 0.5 <= took <= body_seconds + 1, "answered and closed in time"
        problem = json.loads(reply.split(b"\r\n\r\n", 1)[1])
        assert problem["status"] == 408
        assert b"connection: close" in reply.lower()

    took, reply = send_slowly(body_seconds / (len(body) + 2), len(body), connection="close")
    assert _status(reply) == 200, reply[:300]  # slow, but complete within the deadline
    assert served.proc.poll() is None


@pytest.mark.parametrize(
    ("limits", "wanted", "expected", "raised_to"),
    [
        ((1024, 1_048_576), 4096, 4096, 4096 + serve_module.FD_RESERVE),
        ((1024, 1024), 4096, 1024 - serve_module.FD_RESERVE, None),
        ((1024, 2000), 4096, 2000 - serve_module.FD_RESERVE, 2000),
        ((resource.RLIM_INFINITY, resource.RLIM_INFINITY), 4096, 4096, None),
        ((100_000, 100_000), 4096, 4096, None),
    ],
)
def test_the_connection_cap_fits_the_open_file_limit(
    monkeypatch: pytest.MonkeyPatch,
    limits: tuple[int, int],
    wanted: int,
    expected: int,
    raised_to: int | None,
) -> None:
    """F1's process ran out of descriptors: a worker's cap plus what it needs besides must fit
    its open-file limit, raised first as far as the hard limit allows."""
    raised: list[tuple[int, int]] = []
    monkeypatch.setattr(resource, "getrlimit", lambda _which: limits)
    monkeypatch.setattr(resource, "setrlimit", lambda _which, value: raised.append(value))
    assert serve_module._connections_per_worker(wanted) == expected
    assert raised == ([] if raised_to is None else [(raised_to, limits[1])])
