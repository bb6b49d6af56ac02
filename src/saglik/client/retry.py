"""When and how long to retry.

Every G2G method is a query: HES answers a code's current state, ÖBS reads death forms; nothing
a client sends changes what the next answer will be. So a request that may or may not have
reached the server can always be sent again — retrying is safe by construction, with no
idempotency key. (A RISKY visitor check is reported by the service to the Ministry of Interior;
a retried one is simply a second check, reported as such.)

What is retried: connection failures and timeouts, HTTP 502/503/504 (a gateway or the audit
store briefly unavailable) and 429, sleeping at least the server's ``Retry-After`` (also on a 503
that sends one). What is never retried: 400 (the request is wrong and stays wrong), 401/403 and
the ÖBS authorization 500 (a wrong password or a missing right does not heal by repeating, and
hammering it may lock the account on a real gateway), and any other 5xx (a server bug answers
the same again).

Backoff is exponential with *full jitter* (uniform in ``[0, min(cap, base·2ⁿ)]``), so clients that
failed together do not come back together. Built on tenacity, whose wait can read the failed
attempt's exception, which is where ``Retry-After`` lives.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import tenacity

from saglik.client.errors import RateLimited, ServiceUnavailable

T = TypeVar("T")

log = logging.getLogger("saglik.client")

RETRY_STATUSES = frozenset({502, 503, 504})


def is_retryable(exc: BaseException) -> bool:
    """Connection failures (``status`` None), 502/503/504 and 429 — nothing else."""
    if isinstance(exc, RateLimited):
        return True
    return isinstance(exc, ServiceUnavailable) and (
        exc.status is None or exc.status in RETRY_STATUSES
    )


def _retry_after(state: tenacity.RetryCallState) -> float | None:
    """The ``Retry-After`` of the failed attempt (a 429, or a 503 that sent one)."""
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, RateLimited | ServiceUnavailable):
        return exc.retry_after
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` counts the first try (``attempts=1`` never retries).

    ``max_retry_after``: a 429 asking to wait longer than this is raised at once as
    :class:`RateLimited` (with ``retry_after``) instead of blocking the caller for minutes.
    ``sleep`` / ``async_sleep`` are injectable so tests and schedulers need not really wait.
    """

    attempts: int = 4
    base: float = 0.2
    cap: float = 5.0
    jitter: bool = True
    max_retry_after: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    async_sleep: Callable[[float], Awaitable[None]] = field(
        default=asyncio.sleep, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts counts the first try: at least 1")
        if self.base < 0 or self.cap < 0 or self.max_retry_after < 0:
            raise ValueError("RetryPolicy delays must not be negative")

    @classmethod
    def never(cls) -> RetryPolicy:
        """One attempt: every failure is raised as it happens."""
        return cls(attempts=1)

    def _backoff(self) -> tenacity.wait.wait_base:
        if self.jitter:
            return tenacity.wait_random_exponential(multiplier=self.base, max=self.cap)
        return tenacity.wait_exponential(multiplier=self.base, max=self.cap)

    def _wait(self) -> Callable[[tenacity.RetryCallState], float]:
        backoff = self._backoff()

        def wait(state: tenacity.RetryCallState) -> float:
            delay = float(backoff(state))
            retry_after = _retry_after(state)
            return delay if retry_after is None else max(delay, retry_after)

        return wait

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        if state.attempt_number >= self.attempts:
            return True
        retry_after = _retry_after(state)
        return retry_after is not None and retry_after > self.max_retry_after

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        status = getattr(exc, "status", None)
        log.warning(
            "%s failed (%s%s); retry %d of %d in %.2f s",
            getattr(exc, "method", None) or "call",
            type(exc).__name__,
            f" HTTP {status}" if status else "",
            state.attempt_number,
            self.attempts - 1,
            delay,
        )

    def _options(self) -> dict[str, object]:
        return {
            "stop": self._stop,
            "wait": self._wait(),
            "retry": tenacity.retry_if_exception(is_retryable),
            "before_sleep": self._before_sleep,
            "reraise": True,
        }

    def call(self, fn: Callable[[], T]) -> T:
        """Runs ``fn`` under this policy; the last failure is raised as itself."""
        retrying = tenacity.Retrying(sleep=self.sleep, **self._options())  # type: ignore[arg-type]
        return retrying(fn)

    async def acall(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Awaits ``fn()`` under this policy; the last failure is raised as itself."""
        retrying = tenacity.AsyncRetrying(
            sleep=self.async_sleep,
            **self._options(),  # type: ignore[arg-type]
        )

        async def attempt() -> T:
            # tenacity awaits only what it recognises as a coroutine function; a lambda
            # returning a coroutine would come back un-awaited.
            return await fn()

        return await retrying(attempt)


__all__ = ["RETRY_STATUSES", "RetryPolicy", "is_retryable"]
