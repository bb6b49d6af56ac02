"""Every way a call can fail, as one exception each.

Integrators branch on the class, never on message text. Messages are meant for logs and people:
they name the method and the HTTP status, never the password, the ``Authorization`` header, a
T.C. Kimlik No or a name (the request is not echoed back).
"""

from __future__ import annotations

from dataclasses import dataclass


class SaglikClientError(Exception):
    """Base of every error the client raises, so ``except SaglikClientError`` catches them all.

    ``status`` is the HTTP status when there was an answer (``None`` for a local refusal or a
    connection failure); ``method`` the service method that was called, when there was one.
    """

    def __init__(self, message: str, *, status: int | None = None, method: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.method = method


class ConfigError(SaglikClientError):
    """Credentials could not be loaded (none given, or a config file that is unsafe to read)."""


class InvalidCode(SaglikClientError, ValueError):
    """The text cannot be a HES code; raised before any request is sent.

    Also a ``ValueError`` so that input-validation code that already catches it keeps working.
    """


class UnexpectedResponse(SaglikClientError):
    """An answer outside the contract (an unknown status, a body that does not parse)."""


class ServiceUnavailable(SaglikClientError):
    """The service could not be reached or answered 5xx, after the retries the policy allows.

    ``status`` is ``None`` for connection failures and timeouts; ``retry_after`` is the
    ``Retry-After`` a 503 may carry (maintenance), honoured by the retries like a 429's.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message, status=status, method=method)
        self.retry_after = retry_after


class NotAuthenticated(SaglikClientError):
    """HES 401: missing or malformed credentials, or a wrong password."""


class PermissionDenied(SaglikClientError):
    """HES 403: no such user in this environment (a credential of the other environment is
    one), the user is disabled, the client address is not allowed, or the method is not granted.
    The gateway decides this before it looks at the password, and does not say which."""


class RateLimited(SaglikClientError):
    """429: over the service user's rate limit, or (HES) the username or client address is
    locked after too many wrong passwords. ``retry_after`` is the server's ``Retry-After``
    in seconds (``None`` if it sent none); raised once the retry policy gave up waiting."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None,
        status: int | None = 429,
        method: str | None = None,
    ):
        super().__init__(message, status=status, method=method)
        self.retry_after = retry_after


@dataclass(frozen=True)
class FieldError:
    """One entry of a HES constraint violation's ``fieldErrors``."""

    object_name: str
    field: str
    message: str


class RequestInvalid(SaglikClientError):
    """HES 400 constraint violation (or a bulk request refused locally for its size).

    ``field_errors`` lists what the server (or the client, for the size) objected to; it is empty
    when the server only said the body was not valid JSON.
    """

    def __init__(
        self,
        message: str,
        *,
        field_errors: list[FieldError],
        status: int | None = 400,
        method: str | None = None,
    ):
        super().__init__(message, status=status, method=method)
        self.field_errors = field_errors


class HesCodeError(SaglikClientError):
    """A single-code HES method answered a code error; ``error_key`` is the server's errorKey.

    The code itself is kept on ``code`` (not in the message) so that it reaches a log only if the
    integrator chooses to put it there.
    """

    def __init__(self, message: str, *, code: str, error_key: str, method: str | None = None):
        super().__init__(message, status=400, method=method)
        self.code = code
        self.error_key = error_key


class HesCodeNotFound(HesCodeError):
    """``hescodenotfound``: unknown, cancelled or malformed code."""


class HesCodeExpired(HesCodeError):
    """``hescodehasbeenexpired``: the code was valid once; ask the person for a new one."""


class ObsAuthorizationFailed(SaglikClientError):
    """ÖBS HTTP 500: wrong credentials, an unknown or disabled user, an address not allowed, no
    right on the method, or a username or address locked after too many wrong passwords.

    The service answers both identically on purpose, so the client cannot tell them apart either.
    Never retried: a wrong password does not get better by repeating it.
    """


class ObsNotFound(SaglikClientError):
    """ÖBS State 2 (UYARI): no matching record in the caller's scope."""


class ObsInvalid(SaglikClientError):
    """ÖBS State 0 (HATA) with HTTP 200: the parameters were refused; ``message`` says why, in
    Turkish, as the service wrote it."""


__all__ = [
    "ConfigError",
    "FieldError",
    "HesCodeError",
    "HesCodeExpired",
    "HesCodeNotFound",
    "InvalidCode",
    "NotAuthenticated",
    "ObsAuthorizationFailed",
    "ObsInvalid",
    "ObsNotFound",
    "PermissionDenied",
    "RateLimited",
    "RequestInvalid",
    "SaglikClientError",
    "ServiceUnavailable",
    "UnexpectedResponse",
]
