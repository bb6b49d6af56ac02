"""What the sync and async clients share: a call described as data, the HTTP client settings,
the decoding of gateway failures, and the one place each flavour sends a call under the retry
policy. The service modules only build :class:`Call` values and decode answers — pure functions
that both flavours use unchanged.
"""

from __future__ import annotations

import email.utils
import importlib.metadata
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Self, TypeVar

import httpx

from saglik.client.config import Credentials, resolve_base_url
from saglik.client.errors import (
    RateLimited,
    SaglikClientError,
    ServiceUnavailable,
    UnexpectedResponse,
)
from saglik.client.retry import RetryPolicy

T = TypeVar("T")
S = TypeVar("S")

log = logging.getLogger("saglik.client")


def _version() -> str:
    # Read from the installed distribution rather than importing anything of the server side.
    try:
        return importlib.metadata.version("saglik")
    except importlib.metadata.PackageNotFoundError:
        return "0"


USER_AGENT = f"saglik-client/{_version()}"


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request and how to read its answer. ``path`` is relative to the base URL."""

    method: str
    http_method: str
    path: str
    decode: Callable[[httpx.Response], T]
    json_body: Any = None
    params: Mapping[str, str] | None = None

    def send_with(self, request: Callable[..., S]) -> S:
        """``request`` is ``httpx.Client.request`` or ``httpx.AsyncClient.request``."""
        return request(self.http_method, self.path, json=self.json_body, params=self.params)


def json_or_none(response: httpx.Response) -> Any:
    """The body as JSON, or ``None`` when it is not JSON (an HTML error page from a proxy)."""
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def _detail(body: Any) -> str:
    if isinstance(body, dict):
        for key in ("detail", "Message", "title"):
            value = body.get(key)
            if isinstance(value, str) and value and len(value) <= 200:
                return f": {value}"
    return ""


def gateway_failure(response: httpx.Response, method: str) -> SaglikClientError:
    """The failures both services answer the same way: 429, 5xx, and anything unexpected."""
    status = response.status_code
    body = json_or_none(response)
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status == 429:
        wait = f"; retry after {retry_after:g} s" if retry_after is not None else ""
        return RateLimited(
            f"{method}: rate limited (HTTP 429){wait}", retry_after=retry_after, method=method
        )
    if 500 <= status <= 599:
        return ServiceUnavailable(
            f"{method}: service unavailable (HTTP {status}){_detail(body)}",
            status=status,
            method=method,
            retry_after=retry_after,
        )
    return UnexpectedResponse(
        f"{method}: unexpected answer (HTTP {status}){_detail(body)}", status=status, method=method
    )


def connection_failure(exc: httpx.TransportError, method: str) -> ServiceUnavailable:
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "could not connect"
    return ServiceUnavailable(f"{method}: {kind} ({type(exc).__name__})", method=method)


def unparseable(method: str, status: int, what: str) -> UnexpectedResponse:
    return UnexpectedResponse(
        f"{method}: the answer does not match the contract ({what})", status=status, method=method
    )


class _Exchange(Generic[T]):
    """One request/answer of a call: times it, turns transport errors into the client's own
    exception, logs the status (method name only: ÖBS query strings carry identity numbers and
    names) and decodes. Both flavours send inside it; only the ``await`` differs."""

    def __init__(self, call: Call[T]) -> None:
        self.call = call
        self.started = time.perf_counter()
        self.response: httpx.Response | None = None

    def __enter__(self) -> _Exchange[T]:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, httpx.TransportError):
            raise connection_failure(exc, self.call.method) from exc

    def result(self) -> T:
        if self.response is None:
            raise unparseable(self.call.method, 0, "no answer")
        log.debug(
            "%s answered HTTP %d in %.0f ms",
            self.call.method,
            self.response.status_code,
            (time.perf_counter() - self.started) * 1000,
        )
        return self.call.decode(self.response)


TransportT = TypeVar("TransportT")
HttpT = TypeVar("HttpT")


class _ClientBase(Generic[TransportT, HttpT]):
    """What both flavours share; each only says how to open its ``httpx`` client."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        timeout: float | httpx.Timeout = 10.0,
        retry: RetryPolicy | None = None,
        transport: TransportT | None = None,
    ) -> None:
        self._base_url = resolve_base_url(base_url)
        self._username = username
        self._retry = retry or RetryPolicy()
        self._http: HttpT = self._open(
            transport,
            base_url=self._base_url + "/",
            auth=httpx.BasicAuth(username, password),
            timeout=timeout,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            follow_redirects=False,
        )

    def _open(self, transport: TransportT | None, **options: Any) -> HttpT:
        raise NotImplementedError

    @classmethod
    def from_credentials(cls, credentials: Credentials, **options: Any) -> Self:
        """A client for ``credentials``; ``options`` are the constructor's keyword arguments."""
        factory: Any = cls
        client: Self = factory(
            credentials.base_url, credentials.username, credentials.password, **options
        )
        return client

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base_url!r}, username={self._username!r})"

    @property
    def base_url(self) -> str:
        return self._base_url


class SyncService(_ClientBase[httpx.BaseTransport, httpx.Client]):
    """The blocking flavour: one ``httpx.Client`` (a connection pool, thread-safe)."""

    def _open(self, transport: httpx.BaseTransport | None, **options: Any) -> httpx.Client:
        return httpx.Client(transport=transport, **options)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _send(self, call: Call[T]) -> T:
        with _Exchange(call) as exchange:
            exchange.response = call.send_with(self._http.request)
        return exchange.result()

    def _run(self, call: Call[T]) -> T:
        return self._retry.call(lambda: self._send(call))


class AsyncService(_ClientBase[httpx.AsyncBaseTransport, httpx.AsyncClient]):
    """The asyncio flavour: one ``httpx.AsyncClient``; close it with ``await aclose()``."""

    def _open(
        self, transport: httpx.AsyncBaseTransport | None, **options: Any
    ) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=transport, **options)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _send(self, call: Call[T]) -> T:
        with _Exchange(call) as exchange:
            exchange.response = await call.send_with(self._http.request)
        return exchange.result()

    async def _run(self, call: Call[T]) -> T:
        return await self._retry.acall(lambda: self._send(call))
