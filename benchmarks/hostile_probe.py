"""The issue-11 security probe, bounded: what a hostile client can do to ``saglik serve``.

    .venv/bin/python benchmarks/hostile_probe.py                      # this checkout
    .venv/bin/python benchmarks/hostile_probe.py --saglik OTHER/.venv/bin/saglik --label before

Starts ``saglik serve`` (1 worker, a fresh SQLite store in a temporary directory, Argon2 at its
production cost) from the given installation, on 127.0.0.1, and measures, finding by finding:

- F1: 3,000 sockets that each send ``GET /healthz HT`` and nothing more; how many the server
  still holds after 12 s, and the latency of normal calls at a constant 20 a second meanwhile;
- F2: 50 connections sending 4 MiB of headers without an end (RSS before and after), and one
  complete request with a 16 MiB header;
- F3/F4: refusals for an address not allowed, a method not granted and a disabled user, with the
  right and a wrong password: statuses and median times (21 interleaved samples each);
- F5: 100 wrong passwords in a row: how many were answered 401 before the first 429;
- F7: a trailing slash with ``Host: attacker.example``;
- F8: 2,000 calls without credentials: audit rows written;
- F9: a visitor check with a 1 MB ``city``;
- F10: the headers of a HES answer and of ``/docs``.

Writes ``benchmarks/results/probe-<label>-<UTC time>.md`` and prints it. Everything is bounded
in count and time; the process tree's RSS is read from /proc.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
TEST = "/services/g2g/test/saglik/hes/"
OBS_TEST = "/services/g2g/test/saglik/OBS/"
PASSWORD = "probe-password-0123456789"
FIXTURE_CODE = "E5S50005S5"
HES_BODY = {"hes_code": FIXTURE_CODE}
OBS_PARAMS = {"Tarih": "2025-03-14"}
EMPLOYEE = "check-employee-hes-code"
DATES = "GetTumOlumlerByDate"
NOT_HERE = "203.0.113.0/24"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tree_rss_mb(pid: int) -> float:
    """RSS of ``pid`` and every descendant (a server may run its workers as children)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(match.group(1)) if match else 0
    return total / 1024


class Server:
    def __init__(self, saglik: str, workdir: Path) -> None:
        self.saglik = saglik
        self.workdir = workdir
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SAGLIK_")}
        self.env = env
        self.proc = subprocess.Popen(
            [saglik, "serve", "--port", str(self.port)],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        lines = []
        for line in self.proc.stdout:
            lines.append(line)
            if "listening on" in line:
                break
        text = "".join(lines)
        self.sandbox = (
            re.search(r"username: (\S+)", text).group(1),  # type: ignore[union-attr]
            re.search(r"password: (\S+)", text).group(1),  # type: ignore[union-attr]
        )
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [self.saglik, *args],
            cwd=self.workdir,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    def rss(self) -> float:
        return _tree_rss_mb(self.proc.pid)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _add_user(server: Server, name: str, *options: str) -> tuple[str, str]:
    server.cli("institution", "add", f"Probe {name}")
    server.cli(
        "user", "add", name, "--institution", f"Probe {name}", "--env", "test",
        "--password-stdin", *options, stdin=PASSWORD + "\n",
    )  # fmt: skip
    return name, PASSWORD


def _disable(workdir: Path, name: str) -> None:
    """What an operator's deactivation does to the store (the CLI has no verb for it)."""
    with sqlite3.connect(workdir / "saglik.db") as db:
        db.execute("UPDATE service_users SET active = 0 WHERE username = ?", (name,))
        db.execute(
            "UPDATE instance_state SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) "
            "WHERE key = 'credentials_version'"
        )


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def probe_f1(server: Server, out: list[str], sockets: int) -> None:
    rss_before = server.rss()
    held: list[socket.socket] = []
    for _ in range(sockets):
        try:
            s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            s.sendall(b"GET /healthz HT")
            held.append(s)
        except OSError:
            break
    latencies: list[float] = []
    failures = 0
    with httpx.Client(base_url=server.base, timeout=5) as http:
        start = time.monotonic()
        for n in range(240):  # 20 a second for 12 s, at fixed send times (open loop)
            delay = start + n / 20 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent = time.perf_counter()
            try:
                http.get("/healthz")
                latencies.append((time.perf_counter() - sent) * 1000)
            except httpx.HTTPError:
                failures += 1
    still_open = 0
    for s in held:
        s.setblocking(False)
        try:
            still_open += s.recv(1, socket.MSG_PEEK) != b""  # b"" = the server closed it
        except BlockingIOError:
            still_open += 1
        except OSError:
            pass
        s.close()
    out.append(
        f"| F1 | {len(held)} half-sent sockets, after 12 s | still held by the server: "
        f"{still_open}; normal calls: {len(latencies)} answered, {failures} failed, "
        f"p50 {_p(latencies, 0.5):.1f} ms, p99 {_p(latencies, 0.99):.1f} ms; "
        f"RSS {rss_before:.0f} → {server.rss():.0f} MB |"
    )


def probe_f2(server: Server, out: list[str]) -> None:
    rss_before = server.rss()
    chunk = b"X-Filler: " + b"a" * 65_000 + b"\r\n"
    closed = 0

    def flood() -> None:
        nonlocal closed
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=20) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                for _ in range(64):  # ~4 MiB, never ending the headers
                    s.sendall(chunk)
                time.sleep(2)
        except OSError:
            closed += 1

    threads = [threading.Thread(target=flood) for _ in range(50)]
    for t in threads:
        t.start()
    time.sleep(3)
    rss_peak = server.rss()
    for t in threads:
        t.join(timeout=30)
    try:
        big = httpx.get(server.base + "/healthz", headers={"X-Big": "b" * (16 << 20)}, timeout=20)
        big_status = str(big.status_code)
    except httpx.HTTPError as exc:
        big_status = f"closed ({type(exc).__name__})"
    out.append(
        f"| F2 | 50 × 4 MiB unterminated headers; one 16 MiB header | RSS {rss_before:.0f} → "
        f"{rss_peak:.0f} MB during; {closed} of 50 cut off by the server; "
        f"16 MiB header answered: {big_status} |"
    )


def probe_oracles(server: Server, out: list[str]) -> None:
    other_methods = ("--method", "check-hes-codes", "--method", "GetOlumByFormNoBasic")
    users = {
        "address not allowed": _add_user(server, "probe-ip", "--all-methods", "--ip", NOT_HERE),
        "method not granted": _add_user(server, "probe-right", *other_methods),
        "disabled user": _add_user(server, "probe-off", "--all-methods"),
    }
    _disable(server.workdir, "probe-off")
    time.sleep(1)
    with httpx.Client(base_url=server.base, timeout=10) as http:
        for reason, (name, password) in users.items():
            for service, send in (
                ("HES", lambda a: http.post(TEST + EMPLOYEE, json=HES_BODY, auth=a)),
                ("ÖBS", lambda a: http.get(OBS_TEST + DATES, params=OBS_PARAMS, auth=a)),
            ):
                cases = {"right": (name, password), "wrong": (name, "wrong-" + password)}
                times: dict[str, list[float]] = {c: [] for c in cases}
                statuses: dict[str, set[int]] = {c: set() for c in cases}
                for auth in cases.values():
                    send(auth)  # a first right password fills a cache
                for _ in range(21):
                    for case, auth in cases.items():
                        started = time.perf_counter()
                        statuses[case].add(send(auth).status_code)
                        times[case].append((time.perf_counter() - started) * 1000)
                right, wrong = (statistics.median(times[c]) for c in cases)
                out.append(
                    f"| F3/F4 | {service}, {reason} | right password: {sorted(statuses['right'])} "
                    f"in {right:.1f} ms; wrong: {sorted(statuses['wrong'])} in {wrong:.1f} ms "
                    f"(median; ratio {max(right, wrong) / min(right, wrong):.1f}×) |"
                )


def probe_f5(server: Server, out: list[str]) -> None:
    name, _password = _add_user(server, "probe-guess", "--all-methods")
    time.sleep(1)
    statuses = []
    started = time.monotonic()
    with httpx.Client(base_url=server.base, timeout=10) as http:
        for n in range(100):
            response = http.post(
                TEST + "check-employee-hes-code",
                json={"hes_code": FIXTURE_CODE},
                auth=(name, f"guess-{n}"),
            )
            statuses.append(response.status_code)
    took = time.monotonic() - started
    first = statuses.index(429) if 429 in statuses else None
    counts = {s: statuses.count(s) for s in sorted(set(statuses))}
    out.append(
        f"| F5 | 100 wrong passwords in a row ({took:.1f} s) | answered {counts}; "
        f"password checks before the first 429: {first if first is not None else 'all 100'} |"
    )


def probe_f7(server: Server, out: list[str]) -> None:
    response = httpx.post(
        server.base + TEST + "check-hes-code/",
        json={},
        headers={"Host": "attacker.example"},
        follow_redirects=False,
    )
    location = response.headers.get("location", "none")
    out.append(
        f"| F7 | trailing slash, `Host: attacker.example` | {response.status_code}, "
        f"`Location`: {location} |"
    )


def _audit_rows(workdir: Path) -> tuple[int, int]:
    with sqlite3.connect(workdir / "saglik.db") as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(audit_events)")]
        total = "SUM(repeats)" if "repeats" in columns else "COUNT(*)"
        rows, calls = db.execute(f"SELECT COUNT(*), {total} FROM audit_events").fetchone()  # noqa: S608
    return int(rows), int(calls or 0)


def probe_f8(server: Server, out: list[str]) -> None:
    before = _audit_rows(server.workdir)
    started = time.monotonic()
    with httpx.Client(base_url=server.base, timeout=10) as http:
        for _ in range(2000):
            http.post(TEST + "check-employee-hes-code", json={"hes_code": FIXTURE_CODE})
    took = time.monotonic() - started
    during = _audit_rows(server.workdir)
    out.append(
        f"| F8 | 2,000 calls without credentials ({took:.1f} s) | audit rows written while "
        f"serving: {during[0] - before[0]} |"
    )


def probe_f9(server: Server, out: list[str]) -> None:
    body = {
        "hes_code": FIXTURE_CODE,
        "city": "A" * 1_000_000,
        "district": "B",
        "explicit_address": "C",
    }
    response = httpx.post(
        server.base + TEST + "check-visitor-hes-code", json=body, auth=server.sandbox, timeout=20
    )
    out.append(f"| F9 | visitor check with a 1 MB `city` | {response.status_code} |")


def probe_f10(server: Server, out: list[str]) -> None:
    hes = httpx.post(
        server.base + TEST + "check-hes-code", json={"hes_code": FIXTURE_CODE}, auth=server.sandbox
    )
    docs = httpx.get(server.base + "/docs")
    names = (
        "cache-control",
        "x-content-type-options",
        "x-frame-options",
        "content-security-policy",
    )

    def shown(response: httpx.Response) -> str:
        return ", ".join(f"{n}: {response.headers.get(n, '—')[:40]}" for n in names)

    out.append(f"| F10 | a HES answer ({hes.status_code}) | {shown(hes)} |")
    out.append(f"| F10 | `/docs` ({docs.status_code}) | {shown(docs)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--saglik", default=str(BIN / "saglik"), help="the saglik executable")
    parser.add_argument("--label", default="after")
    parser.add_argument("--sockets", type=int, default=3000)
    args = parser.parse_args()
    out = [
        f"# Hostile-client probe: {args.label}",
        "",
        f"`{' '.join(sys.argv)}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores",
        "",
        "| finding | probe | result |",
        "|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(args.saglik, Path(tmp))
        start = _audit_rows(server.workdir)
        try:
            probe_f7(server, out)
            probe_f9(server, out)
            probe_f10(server, out)
            probe_oracles(server, out)
            probe_f5(server, out)
            probe_f8(server, out)
            probe_f2(server, out)
            probe_f1(server, out, args.sockets)
        finally:
            server.stop()
        end = _audit_rows(server.workdir)
        out.append(
            f"| F8 | every call of this probe, after a graceful stop | {end[0] - start[0]} audit "
            f"rows standing for {end[1] - start[1]} calls |"
        )
    text = "\n".join(out) + "\n"
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    (HERE / "results" / f"probe-{args.label}-{stamp}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
