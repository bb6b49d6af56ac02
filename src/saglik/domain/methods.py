"""Method names as they appear on the wire and in per-method rights."""

from __future__ import annotations

from saglik.domain.errors import InvalidInput

HES_METHODS: tuple[str, ...] = (
    "check-visitor-hes-code",
    "check-employee-hes-code",
    "check-hes-codes",
    "check-hes-code-plus",
    "check-hes-codes-plus",
    "check-hes-code",
)
"""``check-hes-code`` is not in API v3.0: earlier versions of the service offered it (one code,
the employee check's answer) and public clients still call it, so it is served, granted and
audited as a method of its own (contract §4.1)."""

OBS_METHODS: tuple[str, ...] = (
    "GetTumOlumlerByDate",
    "GetAdliFormlarByDate",
    "GetGuncellenenOlumlerByDate",
    "GetOlumByTcKimlikNoBasic",
    "GetOlumByTcKimlikNoFull",
    "GetOlumByFormNoBasic",
    "GetOlumByFormNoFull",
    "GetOlumByPasaportNoBasic",
    "GetOlumByPasaportNoFull",
    "GetOlumTarihiByTcKimlikNo",
)

ALL_METHODS: tuple[str, ...] = HES_METHODS + OBS_METHODS

ENVIRONMENTS: tuple[str, ...] = ("live", "test")
ENV_RULE = f"environment must be one of {', '.join(ENVIRONMENTS)}"
"""The refusal of any other environment, worded once for every surface."""


def check_env(env: str | None) -> None:
    """Refuses an environment that is not one; None stands for "every environment"."""
    if env is not None and env not in ENVIRONMENTS:
        raise InvalidInput(ENV_RULE)


UNKNOWN_METHOD = "(unknown)"
"""The audit's method for a call to a method that does not exist: the name asked is the caller's
own text, and an audit column is no place for it."""
