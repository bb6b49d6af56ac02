"""HES results as typed values (contract §4.2), parsed from the wire with its own field names."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict

from saglik.client._enums import OpenStrEnum

ERROR_NOT_FOUND = "hescodenotfound"
"""errorKey of an unknown, cancelled or malformed code."""
ERROR_EXPIRED = "hescodehasbeenexpired"
"""errorKey of an expired code."""
ERROR_INVALID = "invalid"
"""The client's own key, in :meth:`HesClient.check_many` failures, for input that is not a code
(refused locally, never sent)."""


def _in_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDateTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
"""The wire's ``...Z`` times as aware datetimes in :data:`datetime.UTC`."""


class HealthStatus(OpenStrEnum):
    """``current_health_status``; an unknown value is kept (its ``.known`` is False)."""

    RISKY = "RISKY"
    RISKLESS = "RISKLESS"


class HesResult(BaseModel):
    """A single-code result. ``expiration_date`` is an aware UTC datetime. Fields are declared
    in the service's wire order (contract §4.2), so ``model_dump`` keeps it; parsing does not
    depend on key order."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    expiration_date: UtcDateTime
    current_health_status: HealthStatus
    masked_identity_number: str
    masked_firstname: str
    masked_lastname: str

    @property
    def risky(self) -> bool:
        """Only ``RISKY`` is risky: an unknown future status is reported, not guessed at."""
        return self.current_health_status is HealthStatus.RISKY


class HesPlusResult(HesResult):
    """A plus result: ``None`` in the first three plus fields means *not shared* or *RISKY*."""

    is_vaccinated: bool | None
    is_immune: bool | None
    is_test_data_shared: bool
    last_negative_test_date: UtcDateTime | None


R = TypeVar("R", HesResult, HesPlusResult)


@dataclass
class BulkResult(Generic[R]):
    """A bulk answer: every code lands in exactly one of the maps.

    Both maps are keyed by the code **as the caller passed it** (dashed, lower case, a QR
    payload…), so a caller can look up with what it has. ``failure`` values are the server's
    errorKeys (:data:`ERROR_NOT_FOUND`, :data:`ERROR_EXPIRED`) or :data:`ERROR_INVALID`.
    """

    success: dict[str, R] = field(default_factory=dict)
    failure: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.success) + len(self.failure)

    def merge(self, other: BulkResult[R]) -> None:
        """Adds ``other``'s entries (used to join the answers of the requests of one batch)."""
        self.success.update(other.success)
        self.failure.update(other.failure)


@dataclass(frozen=True)
class Visit:
    """Where a visitor check is made (the place, not the person).

    The service validates the fields (a blank city comes back as :class:`RequestInvalid` with
    its field errors); the client only refuses what it could not even send: one coordinate
    without the other, or a coordinate that is not a finite number (JSON has no NaN).
    """

    city: str
    district: str
    explicit_address: str
    latitude: float | None = None
    longitude: float | None = None

    def __post_init__(self) -> None:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("Visit.latitude and Visit.longitude go together")
        for value in (self.latitude, self.longitude):
            if value is not None and not math.isfinite(value):
                raise ValueError("Visit coordinates must be finite numbers")


__all__ = [
    "ERROR_EXPIRED",
    "ERROR_INVALID",
    "ERROR_NOT_FOUND",
    "BulkResult",
    "HealthStatus",
    "HesPlusResult",
    "HesResult",
    "Visit",
]
