"""A ``saglik serve`` process started by a test: its output collected as it comes, stopped by a
signal within a deadline, or killed with its workers (its own process group) as a last resort."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import pytest

STOP_TIMEOUT = 10.0


@dataclass
class Served:
    proc: subprocess.Popen[str]
    base_url: str
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    readers: list[threading.Thread] = field(default_factory=list)

    @property
    def out(self) -> str:
        return "".join(self.stdout)

    @property
    def err(self) -> str:
        """Its JSON log lines so far (every worker's)."""
        return "".join(self.stderr)

    def client(self, **kwargs: object) -> httpx.Client:
        kwargs.setdefault("timeout", 10)
        return httpx.Client(base_url=self.base_url, **kwargs)  # type: ignore[arg-type]

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Sends ``sig`` to the server process and returns its exit status (fails after timeout)."""
        started = time.monotonic()
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"saglik serve did not exit within {timeout} s of {sig.name}:\n{self.err}")
        assert time.monotonic() - started < timeout
        self.join_readers()
        return code

    def join_readers(self) -> None:
        for reader in self.readers:
            reader.join(timeout=5)

    def kill(self) -> None:
        """Last resort in ``finally``: the whole process group (server and its workers)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.join_readers()


def _pump(stream: IO[str], sink: list[str]) -> None:
    for line in iter(stream.readline, ""):
        sink.append(line)
    stream.close()


def spawn(command: Sequence[str], *, port: int, env: Mapping[str, str], cwd: Path | None) -> Served:
    """Starts ``command`` (a ``saglik serve`` listening on ``port``) with ``env`` added to this
    process's environment. Its temporary files (the metrics directory) go to ``cwd``, so that a
    server the test had to kill leaves nothing behind outside the test's own directory."""
    temporary = {"TMPDIR": str(cwd)} if cwd is not None else {}
    proc = subprocess.Popen(
        list(command),
        cwd=cwd,
        env={**os.environ, **temporary, **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        start_new_session=True,  # its own process group, so its workers can be reaped too
    )
    served = Served(proc, f"http://127.0.0.1:{port}")
    for stream, sink in ((proc.stdout, served.stdout), (proc.stderr, served.stderr)):
        assert stream is not None
        reader = threading.Thread(target=_pump, args=(stream, sink), daemon=True)
        reader.start()
        served.readers.append(reader)
    return served
