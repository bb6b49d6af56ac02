"""Constant offered rate (open loop): latency from each request's INTENDED send time.

    HES_BENCH_AUTH=$(printf 'bench:PASSWORD' | base64) .venv/bin/python benchmarks/open_loop.py \\
        --url http://127.0.0.1:18080/services/g2g/saglik/hes/check-employee-hes-code \\
        --bodies codes.jsonl --rate 5000 --seconds 30 [--warmup 5] [--connections 64]
    .venv/bin/python benchmarks/open_loop.py demo-stall     # why not ``hey -q``: shown

Why: a closed-loop generator (``wrk``, ``hey``) sends the next request only when an answer has
come back, so while the server stalls it stops asking, and the stall shows as a handful of slow
requests instead of every request that a real client population would have sent meanwhile
("coordinated omission"). Issue 12's tail target is for a constant offered rate, which only an
open-loop generator measures: here request *i* is due at ``t0 + i / rate`` whatever happened to
the ones before it, and its latency runs from that due time to the last byte of its answer.
``hey -q`` is not that: it limits each of its ``-c`` workers to q requests a second, but each
worker still waits for its answer before the next send and times from the actual send
(``demo-stall`` shows the difference on a server that stalls 100 ms every second).

How: one asyncio (uvloop) process; ``--connections`` keep-alive HTTP/1.1 connections opened
first, one request in flight on each (no pipelining, like a client pool); a dispatcher wakes at
least every millisecond, hands each due request to an idle connection or to the back of a FIFO
backlog that the next connection to finish takes from. The request bytes are built once; the
answer is parsed only for its status and length. Reported: offered and achieved rate, p50 / p90 /
p99 / p99.9 / max from the intended time, the same from the actual send (service time), the
dispatcher's own lag (actual send − intended: the generator's share of the latency, which must stay
small for the figures to be the server's), the statuses, and the generator's CPU (it shares the
machine's cores with the server). Requests still unanswered ``--drain`` s after the last one was
due count as infinitely slow. The last line on stdout is the result as JSON.

Bodies (``--bodies``, one JSON body per line, POSTed) or paths (``--paths``, one path + query per
line, GET on the URL's host) are cycled through. Basic credentials are read from the variable
``--auth-env`` names (default ``HES_BENCH_AUTH``, base64 of ``user:password``), never from the
command line.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import math
import os
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

import uvloop

INF = math.inf


@dataclass
class Result:
    offered_rate: float
    achieved_rate: float
    """Answers completed within the measured window, per second of it."""
    seconds: float
    connections: int
    measured: int
    """Requests due within the measured window."""
    answered: int
    unanswered: int
    statuses: dict[str, int]
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    service_p50_ms: float
    """From the actual send: what a closed-loop tool would report."""
    service_p99_ms: float
    dispatch_lag_p50_ms: float
    """Due time to the dispatcher handing the request on: the generator's own lateness (its
    1 ms timer grain, or a CPU it could not get)."""
    dispatch_lag_p99_ms: float
    dispatch_lag_max_ms: float
    queue_wait_p99_ms: float
    """Dispatch to send: time waiting for a free connection (every one had a request out)."""
    backlog_max: int
    """Most requests waiting for a free connection at once."""
    generator_cores: float
    generator_cpu_us_per_request: float
    total_sent: int
    """Every request sent, the warm-up's included (for the server's CPU per request)."""
    arrivals: str = "uniform"
    notes: list[str] = field(default_factory=list)


def quantile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def ms(value: float) -> float:
    return round(value * 1000, 3) if value != INF else INF


class Generator:
    """The schedule, the connections and the records: everything runs on one event loop."""

    def __init__(
        self,
        host: str,
        port: int,
        requests: list[bytes],
        rate: float,
        warmup: float,
        seconds: float,
        connections: int,
        poisson: bool,
    ) -> None:
        self.host, self.port = host, port
        self.requests = requests
        self.rate = rate
        self.warmup = warmup
        self.seconds = seconds
        self.connections = connections
        count = int(rate * (warmup + seconds))
        if poisson:
            rng = random.Random(12)
            at, due = 0.0, []
            for _ in range(count):
                at += rng.expovariate(rate)
                due.append(at)
            self.due = due
        else:
            self.due = [i / rate for i in range(count)]
        self.t0 = 0.0
        self.sent_at = [0.0] * count
        self.dispatched_at = [0.0] * count
        self.done_at = [INF] * count
        self.status = [0] * count
        self.backlog: collections.deque[int] = collections.deque()
        self.backlog_max = 0
        self.idle: list[Connection] = []
        self.errors = 0
        self.finished = 0
        self.all_done: asyncio.Future[None] | None = None

    def send(self, conn: Connection, index: int) -> None:
        self.sent_at[index] = time.perf_counter()
        conn.send(index, self.requests[index % len(self.requests)])

    def answered(self, conn: Connection, index: int, status: int) -> None:
        self.done_at[index] = time.perf_counter()
        self.status[index] = status
        self._next(conn)

    def failed(self, index: int) -> None:
        self.errors += 1
        self.done_at[index] = INF
        self.status[index] = -1
        self._count()

    def _next(self, conn: Connection) -> None:
        self._count()
        if not conn.usable:
            return
        if self.backlog:
            self.send(conn, self.backlog.popleft())
        else:
            self.idle.append(conn)

    def _count(self) -> None:
        self.finished += 1
        if self.finished == len(self.due) and self.all_done and not self.all_done.done():
            self.all_done.set_result(None)

    def dispatch(self, index: int) -> None:
        self.dispatched_at[index] = time.perf_counter()
        if self.idle:
            self.send(self.idle.pop(), index)
        else:
            self.backlog.append(index)
            self.backlog_max = max(self.backlog_max, len(self.backlog))

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(self.connections):
            _, conn = await loop.create_connection(lambda: Connection(self), self.host, self.port)
            self.idle.append(conn)

    async def reopen(self) -> None:
        """A connection the server closed is replaced (its request counted as an error)."""
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(lambda: Connection(self), self.host, self.port)
        except OSError:
            return
        self._next_new(conn)

    def _next_new(self, conn: Connection) -> None:
        if self.backlog:
            self.send(conn, self.backlog.popleft())
        else:
            self.idle.append(conn)

    async def run(self, drain: float) -> tuple[float, float]:
        """Sends on schedule; returns the CPU seconds and wall seconds of the measured window."""
        loop = asyncio.get_running_loop()
        self.all_done = loop.create_future()
        self.t0 = time.perf_counter() + 0.05
        window_start = self.t0 + self.warmup
        usage0: resource.struct_rusage | None = None
        i, total = 0, len(self.due)
        due = self.due
        while i < total:
            now = time.perf_counter()
            if usage0 is None and now >= window_start:
                usage0 = resource.getrusage(resource.RUSAGE_SELF)
            elapsed = now - self.t0
            while i < total and due[i] <= elapsed:
                self.dispatch(i)
                i += 1
            if i < total:
                # the event loop's timers have a 1 ms grain: a request due sooner goes out on
                # the next wake-up, late by under 1 ms, and that lag counts in its latency
                wait = due[i] - (time.perf_counter() - self.t0)
                await asyncio.sleep(max(0.001, wait))
        if usage0 is None:
            usage0 = resource.getrusage(resource.RUSAGE_SELF)
        window_end = self.t0 + self.warmup + self.seconds
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
        wall = max(1e-6, time.perf_counter() - window_start)
        remaining = window_end + drain - time.perf_counter()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.all_done), max(0.0, remaining))
        return cpu, wall

    def result(self, cpu: float, wall: float, arrivals: str) -> Result:
        start = self.warmup
        end = self.warmup + self.seconds
        measured = [i for i, d in enumerate(self.due) if start <= d < end]
        latencies: list[float] = []
        service: list[float] = []
        lags: list[float] = []
        waits: list[float] = []
        statuses: collections.Counter[str] = collections.Counter()
        answered = unanswered = 0
        in_window = 0
        window0, window1 = self.t0 + start, self.t0 + end
        for i in measured:
            intended = self.t0 + self.due[i]
            done = self.done_at[i]
            if self.dispatched_at[i]:
                lags.append(self.dispatched_at[i] - intended)
            if self.sent_at[i]:
                waits.append(self.sent_at[i] - self.dispatched_at[i])
            if done == INF:
                latencies.append(INF)
                if self.status[i] != -1:
                    unanswered += 1
                continue
            answered += 1
            statuses[f"{self.status[i] // 100}xx"] += 1
            latencies.append(done - intended)
            service.append(done - self.sent_at[i])
        for done in self.done_at:
            if done != INF and window0 <= done < window1:
                in_window += 1
        latencies.sort()
        service.sort()
        lags.sort()
        waits.sort()
        sent = sum(1 for s in self.sent_at if s)
        notes = []
        lag99 = quantile(lags, 0.99)
        if lag99 > 0.002:
            notes.append(
                f"the generator's dispatch lag p99 is {lag99 * 1000:.1f} ms: part of the latency "
                "is the generator's own (it did not get a CPU in time)"
            )
        return Result(
            offered_rate=self.rate,
            achieved_rate=round(in_window / self.seconds, 1),
            seconds=self.seconds,
            connections=self.connections,
            measured=len(measured),
            answered=answered,
            unanswered=unanswered,
            statuses=dict(sorted(statuses.items())),
            errors=sum(1 for i in measured if self.status[i] == -1),
            p50_ms=ms(quantile(latencies, 0.5)),
            p90_ms=ms(quantile(latencies, 0.9)),
            p99_ms=ms(quantile(latencies, 0.99)),
            p999_ms=ms(quantile(latencies, 0.999)),
            max_ms=ms(latencies[-1] if latencies else 0.0),
            service_p50_ms=ms(quantile(service, 0.5)),
            service_p99_ms=ms(quantile(service, 0.99)),
            dispatch_lag_p50_ms=ms(quantile(lags, 0.5)),
            dispatch_lag_p99_ms=ms(lag99),
            dispatch_lag_max_ms=ms(lags[-1] if lags else 0.0),
            queue_wait_p99_ms=ms(quantile(waits, 0.99)),
            backlog_max=self.backlog_max,
            generator_cores=round(cpu / wall, 3),
            generator_cpu_us_per_request=round(cpu * 1e6 / max(1, len(measured)), 1),
            total_sent=sent,
            arrivals=arrivals,
            notes=notes,
        )


HEADER_END = b"\r\n\r\n"
LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
CHUNKED = re.compile(rb"\r\ntransfer-encoding:[ \t]*chunked", re.IGNORECASE)
CLOSE = re.compile(rb"\r\nconnection:[ \t]*close", re.IGNORECASE)


class Connection(asyncio.Protocol):
    """One keep-alive connection, one request in flight; parses just enough of each answer."""

    def __init__(self, generator: Generator) -> None:
        self.generator = generator
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.current: int | None = None
        self.usable = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def send(self, index: int, data: bytes) -> None:
        assert self.transport is not None
        assert self.current is None
        self.current = index
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        buffer = self.buffer
        end = buffer.find(HEADER_END)
        if end < 0:
            return
        head = buffer[: end + 2]
        length = LENGTH.search(head)
        if length is not None:
            total = end + 4 + int(length[1])
            if len(buffer) < total:
                return
        elif CHUNKED.search(head):
            last = buffer.find(b"\r\n0\r\n\r\n", end)
            if last < 0:
                return
            total = last + 7
        else:
            total = end + 4
        status = int(buffer[9:12])
        self.buffer = buffer[total:]
        index, self.current = self.current, None
        if CLOSE.search(head):
            self.usable = False
            assert self.transport is not None
            self.transport.close()
        if index is not None:
            self.generator.answered(self, index, status)
        if not self.usable:
            asyncio.get_running_loop().create_task(self.generator.reopen())

    def connection_lost(self, exc: Exception | None) -> None:
        was_usable, self.usable = self.usable, False
        if self in self.generator.idle:
            self.generator.idle.remove(self)
        if self.current is not None:
            index, self.current = self.current, None
            self.generator.failed(index)
        if was_usable:
            asyncio.get_running_loop().create_task(self.generator.reopen())


def build_requests(
    url: str, bodies: Path | None, paths: Path | None, auth: str | None
) -> tuple[str, int, list[bytes]]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    common = f"Host: {host}:{port}\r\n"
    if auth:
        common += f"Authorization: Basic {auth}\r\n"
    out: list[bytes] = []
    if bodies is not None:
        path = parts.path or "/"
        for line in bodies.read_text("utf-8").splitlines():
            if not line.strip():
                continue
            body = line.encode()
            out.append(
                (
                    f"POST {path} HTTP/1.1\r\n{common}Content-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                ).encode()
                + body
            )
    elif paths is not None:
        for line in paths.read_text("utf-8").splitlines():
            if line.strip():
                out.append(f"GET {line.strip()} HTTP/1.1\r\n{common}\r\n".encode())
    else:
        out.append(f"GET {parts.path or '/'} HTTP/1.1\r\n{common}\r\n".encode())
    if not out:
        raise SystemExit("no requests to send")
    return host, port, out


async def generate(args: argparse.Namespace) -> Result:
    auth = os.environ.get(args.auth_env) if args.auth_env else None
    host, port, requests = build_requests(args.url, args.bodies, args.paths, auth)
    generator = Generator(
        host,
        port,
        requests,
        args.rate,
        args.warmup,
        args.seconds,
        args.connections,
        args.arrivals == "poisson",
    )
    await generator.open()
    cpu, wall = await generator.run(args.drain)
    result = generator.result(cpu, wall, args.arrivals)
    for conn in generator.idle:
        if conn.transport is not None:
            conn.transport.close()
    return result


def summary(r: Result) -> str:
    return (
        f"offered {r.offered_rate:,.0f}/s, achieved {r.achieved_rate:,.0f}/s over {r.seconds:g} s "
        f"({r.connections} connections): p50 {r.p50_ms:.2f} ms, p90 {r.p90_ms:.2f}, "
        f"p99 {r.p99_ms:.2f}, p99.9 {r.p999_ms:.2f}, max {r.max_ms:.2f}; service p99 "
        f"{r.service_p99_ms:.2f} ms; dispatch lag p99 {r.dispatch_lag_p99_ms:.2f} ms, queue "
        f"wait p99 {r.queue_wait_p99_ms:.2f} ms (backlog max {r.backlog_max}); {r.statuses}, "
        f"errors {r.errors}, unanswered {r.unanswered}; generator "
        f"{r.generator_cores:.2f} cores, {r.generator_cpu_us_per_request:.0f} µs/request"
    )


# --- demo-stall: open loop against hey -q on a server that stalls -------------------------------

STALL_ANSWER = (
    b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'
)


class StallServer(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(HEADER_END)
            if end < 0:
                return
            length = LENGTH.search(self.buffer[: end + 2])
            total = end + 4 + (int(length[1]) if length else 0)
            if len(self.buffer) < total:
                return
            self.buffer = self.buffer[total:]
            self.transport.write(STALL_ANSWER)


async def serve_stall(port: int, every: float, stall: float, lifetime: float) -> None:
    """Answers at once, but freezes its event loop for ``stall`` s every ``every`` s."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(StallServer, "127.0.0.1", port)
    deadline = time.monotonic() + lifetime
    async with server:
        while time.monotonic() < deadline:
            await asyncio.sleep(every - stall)
            time.sleep(stall)  # the stall: nothing is read or answered meanwhile


def wait_for_port(port: int, limit: float) -> None:
    deadline = time.monotonic() + limit
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def hey_p(output: str, quantile_label: str) -> float:
    match = re.search(rf"{quantile_label}% in ([\d.]+) secs", output)
    return float(match[1]) * 1000 if match else INF


def demo_stall(args: argparse.Namespace) -> None:
    """Both generators at the same offered rate against a server that stalls 100 ms every
    second: 10 % of the time nobody is answered, so about 10 % of the requests a steady client
    population sends wait up to 100 ms, and p99 must show it."""
    port, rate, seconds = args.port, args.rate, args.seconds
    server = subprocess.Popen(
        [sys.executable, __file__, "serve-stall", "--port", str(port), "--lifetime", "60"],
    )
    try:
        wait_for_port(port, 20)
        open_args = argparse.Namespace(
            url=f"http://127.0.0.1:{port}/",
            bodies=None,
            paths=None,
            auth_env=None,
            rate=rate,
            warmup=1.0,
            seconds=seconds,
            connections=args.connections,
            drain=5.0,
            arrivals="uniform",
        )
        ours = uvloop.run(generate(open_args))
        print(f"open_loop.py: {summary(ours)}", file=sys.stderr)
        hey = shutil.which("hey")
        hey_row = "hey missing"
        if hey:
            workers = 8
            done = subprocess.run(
                [
                    *(hey, "-z", f"{seconds:g}s", "-c", str(workers)),
                    *("-q", f"{rate / workers:g}", f"http://127.0.0.1:{port}/"),
                ],
                capture_output=True,
                text=True,
                timeout=seconds + 30,
                check=True,
            )
            rps = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
            hey_row = (
                f"| `hey -c {workers} -q {rate / workers:g}` (closed loop, rate-limited) | "
                f"{float(rps[1]) if rps else 0:,.0f} | {hey_p(done.stdout, '50'):.2f} | "
                f"{hey_p(done.stdout, '90'):.2f} | {hey_p(done.stdout, '99'):.2f} |"
            )
    finally:
        server.terminate()
        server.wait(10)
    text = "\n".join(
        [
            f"Server stalling 100 ms every 1 s; offered {rate:,.0f} req/s for {seconds:g} s "
            f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end).",
            "",
            "| generator | achieved req/s | p50 ms | p90 ms | p99 ms |",
            "|---|---:|---:|---:|---:|",
            f"| `open_loop.py` (from the intended send time) | {ours.achieved_rate:,.0f} | "
            f"{ours.p50_ms:.2f} | {ours.p90_ms:.2f} | {ours.p99_ms:.2f} |",
            f"| `open_loop.py`, from the actual send (service time) | | "
            f"{ours.service_p50_ms:.2f} | | {ours.service_p99_ms:.2f} |",
            hey_row,
        ]
    )
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"open-loop-demo-{datetime.now(UTC):%Y%m%d-%H%M%S}.md").write_text(
        text + "\n", "utf-8"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve-stall":
        parser = argparse.ArgumentParser(prog="open_loop.py serve-stall")
        parser.add_argument("serve-stall")
        parser.add_argument("--port", type=int, default=18099)
        parser.add_argument("--lifetime", type=float, default=60)
        args = parser.parse_args()
        uvloop.run(serve_stall(args.port, 1.0, 0.1, args.lifetime))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "demo-stall":
        parser = argparse.ArgumentParser(prog="open_loop.py demo-stall")
        parser.add_argument("demo-stall")
        parser.add_argument("--port", type=int, default=18099)
        parser.add_argument("--rate", type=float, default=1000)
        parser.add_argument("--seconds", type=float, default=5)
        parser.add_argument("--connections", type=int, default=64)
        parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
        demo_stall(parser.parse_args())
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="http://host:port/path (POST target)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--bodies", type=Path, help="one JSON body per line, POSTed to --url")
    source.add_argument("--paths", type=Path, help="one path+query per line, GET")
    parser.add_argument("--rate", type=float, required=True, help="requests per second offered")
    parser.add_argument("--seconds", type=float, default=30, help="measured window")
    parser.add_argument("--warmup", type=float, default=5, help="same rate, not measured, first")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--drain", type=float, default=10, help="s to wait for late answers")
    parser.add_argument("--arrivals", choices=("uniform", "poisson"), default="uniform")
    parser.add_argument(
        "--auth-env", default="HES_BENCH_AUTH", help="variable holding base64 user:password"
    )
    args = parser.parse_args()
    if args.rate <= 0 or args.seconds <= 0:
        parser.error("--rate and --seconds must be positive")
    result = uvloop.run(generate(args))
    print(summary(result), file=sys.stderr)
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    main()
