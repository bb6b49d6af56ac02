"""CPU per request of the real app stack, in process (no sockets, no load generator).

Drives the ASGI app returned by ``create_app`` directly with N requests from C concurrent callers,
audit writer and access log included (the log goes to /dev/null), and reports the process CPU time
(all threads) per request. CPU time is far less disturbed by other load on the machine than req/s,
which makes this the tool for before/after comparisons of a hot-path change:

    python benchmarks/cpu_hes.py                                   # working tree
    PYTHONPATH=/tmp/old/src python benchmarks/cpu_hes.py           # another source tree
    python benchmarks/cpu_hes.py --method check-hes-codes --concurrency 1 --requests 100
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import uvloop

from saglik.config import Settings
from saglik.web.app import create_app
from saglik.web.logs import configure_logging

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description="CPU per request of the real app, in process")
    parser.add_argument("--db", type=Path, default=HERE / "data" / "hes_1m.db")
    parser.add_argument("--method", default="check-employee-hes-code")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="measurements; the lowest is kept")
    args = parser.parse_args()
    meta = json.loads(args.db.with_suffix(".json").read_text("utf-8"))
    codes: list[str] = meta["codes"]
    token = base64.b64encode(f"{meta['username']}:{meta['password']}".encode())
    if args.method.startswith("check-hes-codes"):
        bodies = [
            json.dumps([{"hes_code": c} for c in codes[i : i + 500]]).encode()
            for i in range(0, len(codes) - 500, 250)
        ]
    else:
        bodies = [json.dumps({"hes_code": c}).encode() for c in codes]

    configure_logging("INFO")
    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)
    app = create_app(Settings(database_url=f"sqlite:///{args.db.resolve()}"))
    path = f"/services/g2g/saglik/hes/{args.method}"

    async def call(body: bytes) -> int:
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"127.0.0.1"),
                (b"content-type", b"application/json"),
                (b"authorization", b"Basic " + token),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        delivered = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # no disconnect: wait forever
            raise AssertionError

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        return status

    async def measure() -> None:
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        lifespan = asyncio.create_task(
            app(
                {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put
            )
        )
        await inbox.put({"type": "lifespan.startup"})
        started = await outbox.get()
        assert started["type"] == "lifespan.startup.complete", started
        status = await call(bodies[0])
        assert status == 200, f"first call answered {status}"
        await asyncio.gather(*(call(b) for b in bodies[: args.concurrency]))  # warm up
        best: tuple[float, float] | None = None
        for _ in range(args.repeat):
            numbers = iter(range(args.requests))
            statuses: dict[int, int] = {}

            async def caller(offset: int, numbers: Any = numbers, statuses: Any = statuses) -> None:
                for i in numbers:
                    got = await call(bodies[(i * 7 + offset) % len(bodies)])
                    statuses[got] = statuses.get(got, 0) + 1

            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.gather(*(caller(k) for k in range(args.concurrency)))
            cpu_ms = (time.process_time() - cpu) * 1000 / args.requests
            rate = args.requests / (time.perf_counter() - wall)
            print(
                f"  {args.method}: {cpu_ms:.3f} ms CPU/request, {rate:,.0f} req/s in process, "
                f"statuses {statuses}",
                file=sys.stderr,
            )
            if best is None or cpu_ms < best[0]:
                best = (cpu_ms, rate)
        assert best is not None
        print(
            json.dumps(
                {
                    "method": args.method,
                    "requests": args.requests,
                    "concurrency": args.concurrency,
                    "cpu_ms_per_request": round(best[0], 3),
                    "req_per_s_in_process": round(best[1]),
                }
            )
        )
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await lifespan

    uvloop.run(measure())


if __name__ == "__main__":
    main()
