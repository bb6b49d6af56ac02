"""``saglik serve --workers 2`` and its metrics (issue 12 §5), as real processes: calls answered by
either worker are all in one scrape, whichever worker answers it; the workers' counts live in a
private directory that holds nothing of an earlier run; and each answer's request id is in the
access line of the worker that wrote it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from saglik.telemetry import MULTIPROC_DIR
from tests.cli import test_serve
from tests.cli.test_serve import RISKSIZ, _credentials, _wait_for_log
from tests.process_support import Served
from tests.redis_support import redis_url

serve = test_serve.serve
"""``serve(*args, env=...)`` starts ``saglik serve`` on the test's store, ready."""

TOKEN = f"metrics-{secrets.token_hex(16)}"
METHOD = "check-employee-hes-code"
PATH = f"{test_serve.HES_TEST}/{METHOD}"
MIN_CALLS = 20
MAX_CALLS = 400


def _two_workers(serve, **env: str) -> tuple[Served, list[int]]:
    served = serve(
        "--workers",
        "2",
        env={"SAGLIK_RATE_LIMIT_STORAGE": redis_url(), "SAGLIK_METRICS_TOKEN": TOKEN, **env},
    )
    for worker in (1, 2):
        _wait_for_log(served, f"Started worker-{worker}", 1)
    pids = [int(pid) for pid in re.findall(r"Spawning worker-\d with PID: (\d+)", served.err)]
    assert len(pids) == 2, served.err
    return served, pids


def _ok_calls(served: Served) -> int:
    """The ``ok`` count of the method, as one scrape adds it up over every worker."""
    with served.client() as client:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    return int(
        sum(
            sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
            if sample.name == "saglik_calls_total"
            and sample.labels == {"service": "hes", "method": METHOD, "outcome": "ok"}
        )
    )


def _access_lines(served: Served) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in served.err.splitlines() if line.startswith("{")]
    return [line for line in lines if line["logger"] == "saglik.access" and line["path"] == PATH]


def _answered_by(served: Served) -> set[object]:
    return {line["pid"] for line in _access_lines(served)}


def _wait_for_access_lines(served: Served, count: int, timeout: float = 10) -> None:
    """An access line is written once its answer has gone out: it can trail the client."""
    deadline = time.monotonic() + timeout
    while len(_access_lines(served)) < count:
        assert time.monotonic() < deadline, f"{count} access lines expected:\n{served.err}"
        time.sleep(0.05)


def _stale_counts(directory: Path) -> None:
    """What an earlier run that was killed leaves behind: a worker's file of counts."""
    count = f"telemetry.CALLS.labels('hes', '{METHOD}', 'ok').inc(1000)"
    done = subprocess.run(
        [sys.executable, "-c", f"from saglik import telemetry; {count}"],
        env={**os.environ, MULTIPROC_DIR: str(directory)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert list(directory.glob("counter_*.db"))


def _calls_over_both_workers(served: Served, pids: list[int]) -> list[str]:
    """Calls, each on a new connection, until both workers have answered some; their ids."""
    auth = _credentials(served.out)
    ids = []
    while len(ids) < MIN_CALLS or (_answered_by(served) != set(pids) and len(ids) < MAX_CALLS):
        reply = httpx.post(
            served.base_url + PATH, json={"hes_code": RISKSIZ}, auth=auth, timeout=10
        )
        assert reply.status_code == 200, reply.text
        ids.append(reply.headers["x-request-id"])
    _wait_for_access_lines(served, len(ids))
    assert _answered_by(served) == set(pids)
    return ids


def _private_directory(pids: list[int]) -> Path:
    """The directory the workers were given: in their environment, as they started."""
    named = set()
    for pid in pids:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        named.update(v for v in environ if v.startswith(MULTIPROC_DIR.encode() + b"="))
    (variable,) = named
    return Path(variable.split(b"=", 1)[1].decode())


def test_calls_over_both_workers_are_all_in_one_scrape(serve) -> None:
    served, pids = _two_workers(serve)
    ids = _calls_over_both_workers(served, pids)
    for _ in range(4):  # whichever worker takes the scrape
        assert _ok_calls(served) == len(ids)
    # each answer's id is in the access line of the worker that answered it
    assert sorted(line["request_id"] for line in _access_lines(served)) == sorted(ids)

    directory = _private_directory(pids)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert directory.stat().st_uid == os.getuid()

    assert served.stop(signal.SIGTERM, timeout=15) == 0
    assert served.err.count("shut down cleanly") == 2, served.err
    assert not directory.exists()


def test_a_directory_named_to_it_is_made_private_and_emptied_of_a_run_before(
    serve, tmp_path: Path
) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir(mode=0o755)
    _stale_counts(directory)

    served, pids = _two_workers(serve, **{MULTIPROC_DIR: str(directory)})
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert _ok_calls(served) == 0  # the earlier run's 1000 are gone
    with served.client(auth=_credentials(served.out)) as client:
        assert client.post(PATH, json={"hes_code": RISKSIZ}).status_code == 200
    assert _ok_calls(served) == 1

    assert served.stop(signal.SIGTERM, timeout=15) == 0
    assert not list(directory.glob("gauge_livesum_*.db"))  # each worker marked itself dead
    assert {p.name for p in directory.glob("counter_*.db")} == {f"counter_{p}.db" for p in pids}
