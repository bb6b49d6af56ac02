"""``saglik.client``: the typed Python SDK for the HES and ÖBS G2G services.

Works against the Ministry's services and against this project's sandbox alike; it depends only
on its own wire models (nothing of the server side is imported)::

    from saglik.client import HesClient, SANDBOX_TEST

    with HesClient(SANDBOX_TEST, "username", "password") as hes:
        result = hes.check_employee("A1S1-0001-S1")
        print(result.current_health_status, result.expiration_date)

Errors are exceptions (:class:`SaglikClientError` and its subclasses); transient failures
(connection errors, 502/503/504, 429 with ``Retry-After``) are retried with exponential backoff
and jitter (:class:`RetryPolicy`); credentials come from the environment or a 0600 TOML file
(:func:`load_credentials`).
"""

from saglik.client.codes import display_code, is_code, normalize_code
from saglik.client.config import (
    DEFAULT_CONFIG_PATH,
    SANDBOX_LIVE,
    SANDBOX_TEST,
    Credentials,
    Preset,
    load_credentials,
    resolve_base_url,
)
from saglik.client.errors import (
    ConfigError,
    FieldError,
    HesCodeError,
    HesCodeExpired,
    HesCodeNotFound,
    InvalidCode,
    NotAuthenticated,
    ObsAuthorizationFailed,
    ObsInvalid,
    ObsNotFound,
    PermissionDenied,
    RateLimited,
    RequestInvalid,
    SaglikClientError,
    ServiceUnavailable,
    UnexpectedResponse,
)
from saglik.client.hes import AsyncHesClient, HesClient, Progress
from saglik.client.hes_models import (
    ERROR_EXPIRED,
    ERROR_INVALID,
    ERROR_NOT_FOUND,
    BulkResult,
    HealthStatus,
    HesPlusResult,
    HesResult,
    Visit,
)
from saglik.client.obs import AsyncObsClient, ObsClient
from saglik.client.obs_models import (
    ISTANBUL,
    Cinsiyet,
    FormRef,
    KadinOlumuNedeni,
    ObsBasic,
    ObsFull,
    OlumNedeni,
    OlumNedeniTuru,
    OlumSekli,
    OlumYeri,
    ServisSonucDurumu,
)
from saglik.client.retry import RetryPolicy
from saglik.client.roster import DEFAULT_INTERVAL, HesRoster, RosterReport

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_INTERVAL",
    "ERROR_EXPIRED",
    "ERROR_INVALID",
    "ERROR_NOT_FOUND",
    "ISTANBUL",
    "SANDBOX_LIVE",
    "SANDBOX_TEST",
    "AsyncHesClient",
    "AsyncObsClient",
    "BulkResult",
    "Cinsiyet",
    "ConfigError",
    "Credentials",
    "FieldError",
    "FormRef",
    "HealthStatus",
    "HesClient",
    "HesCodeError",
    "HesCodeExpired",
    "HesCodeNotFound",
    "HesPlusResult",
    "HesResult",
    "HesRoster",
    "InvalidCode",
    "KadinOlumuNedeni",
    "NotAuthenticated",
    "ObsAuthorizationFailed",
    "ObsBasic",
    "ObsClient",
    "ObsFull",
    "ObsInvalid",
    "ObsNotFound",
    "OlumNedeni",
    "OlumNedeniTuru",
    "OlumSekli",
    "OlumYeri",
    "PermissionDenied",
    "Preset",
    "Progress",
    "RateLimited",
    "RequestInvalid",
    "RetryPolicy",
    "RosterReport",
    "SaglikClientError",
    "ServiceUnavailable",
    "ServisSonucDurumu",
    "UnexpectedResponse",
    "Visit",
    "display_code",
    "is_code",
    "load_credentials",
    "normalize_code",
    "resolve_base_url",
]
