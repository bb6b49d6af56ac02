"""HES query rules (contract §4.5): what a code answers, evaluated at one instant."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from saglik.domain.turkish import mask_identity_number, mask_name

ISTANBUL = ZoneInfo("Europe/Istanbul")
NEGATIVE_TEST_WINDOW = timedelta(hours=72)
IMMUNITY_MONTHS = 6
VACCINATED_DOSES = 2
NO_EXPIRY = datetime(2070, 12, 30, tzinfo=UTC)
"""What the live service stores for a code issued without expiry (observed)."""


class HealthStatus(enum.StrEnum):
    RISKY = "RISKY"
    RISKLESS = "RISKLESS"


class HesError(Exception):
    """A per-code failure the wire reports with a JHipster ``errorKey``."""

    error_key: str = ""
    title: str = ""


class HesCodeNotFound(HesError):
    error_key = "hescodenotfound"
    title = "Hes code not found!"


class HesCodeExpired(HesError):
    error_key = "hescodehasbeenexpired"
    title = "Hes code has been expired!"


@dataclass(frozen=True, slots=True)
class CodeFacts:
    """What the store knows about one code and its holder, as of the query instant."""

    code: str
    expires_at: datetime
    cancelled: bool
    identity_number: str
    first_name: str
    last_name: str
    at_risk: bool
    consent_vaccination: bool
    consent_immunity: bool
    consent_test: bool
    vaccine_doses: int = 0
    last_infection_at: datetime | None = None
    last_negative_test_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PlusFields:
    """Declared in the wire order (contract §4.2)."""

    is_vaccinated: bool | None
    is_immune: bool | None
    is_test_data_shared: bool
    last_negative_test_date: datetime | None


@dataclass(frozen=True, slots=True)
class HesResult:
    """Declared in the wire order (contract §4.2)."""

    expiration_date: datetime
    current_health_status: HealthStatus
    masked_identity_number: str
    masked_firstname: str
    masked_lastname: str
    plus: PlusFields | None = None


def months_before(moment: datetime, months: int) -> datetime:
    """The same wall-clock instant ``months`` calendar months earlier in Istanbul, day clamped."""
    local = moment.astimezone(ISTANBUL)
    total = local.year * 12 + (local.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    days_in_month = (
        datetime(year + (month == 12), month % 12 + 1, 1) - datetime(year, month, 1)
    ).days
    shifted = local.replace(year=year, month=month, day=min(local.day, days_in_month))
    return shifted.astimezone(UTC)


def evaluate(facts: CodeFacts | None, now: datetime, *, plus: bool) -> HesResult:
    """The answer for one code, or the ``HesError`` the wire reports for it."""
    if facts is None or facts.cancelled:
        raise HesCodeNotFound
    if facts.expires_at <= now:
        raise HesCodeExpired
    status = HealthStatus.RISKY if facts.at_risk else HealthStatus.RISKLESS
    return HesResult(
        expiration_date=facts.expires_at,
        current_health_status=status,
        masked_identity_number=mask_identity_number(facts.identity_number),
        masked_firstname=mask_name(facts.first_name),
        masked_lastname=mask_name(facts.last_name),
        plus=_plus_fields(facts, now) if plus else None,
    )


def _plus_fields(facts: CodeFacts, now: datetime) -> PlusFields:
    if facts.at_risk:
        return PlusFields(
            is_vaccinated=None,
            is_immune=None,
            is_test_data_shared=facts.consent_test,
            last_negative_test_date=None,
        )
    vaccinated = facts.vaccine_doses >= VACCINATED_DOSES
    immune = (
        facts.last_infection_at is not None
        and months_before(now, IMMUNITY_MONTHS) <= facts.last_infection_at <= now
    )
    negative = facts.last_negative_test_at
    if negative is not None and not (now - NEGATIVE_TEST_WINDOW <= negative <= now):
        negative = None
    return PlusFields(
        is_vaccinated=vaccinated if facts.consent_vaccination else None,
        is_immune=immune if facts.consent_immunity else None,
        is_test_data_shared=facts.consent_test,
        last_negative_test_date=negative if facts.consent_test else None,
    )
