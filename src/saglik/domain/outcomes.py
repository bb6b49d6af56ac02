"""The outcomes a G2G call's audit row can carry, in the groups operators read them by.

The web layer writes these values (its replies and the gateway's ``Denial``); the audit filter
and the dashboards read them. They are named once, here, and tests hold the list to what the web
layer writes (tests/services/test_audit_queries.py, tests/services/test_dashboards.py)."""

from __future__ import annotations

ANSWERED = ("ok", "not-found", "hescodenotfound", "hescodehasbeenexpired")
"""The call was answered: found, or not."""
REJECTED = ("invalid", "validation", "bad-json", "bad-media-type", "too-large", "no-such-method")
"""The call was admitted, or named no method, and its request was not a valid one."""
AUTH_FAILURES = (
    "unauthenticated",
    "wrong-password",
    "unknown-user",
    "inactive",
    "ip-not-allowed",
    "method-not-granted",
)
"""The gateway refused the caller: who called, from where, or for what."""
THROTTLES = ("throttled", "rate-limited", "rate-limits-unavailable")
"""The gateway refused the rate of calls, not who called."""
REFUSED = AUTH_FAILURES + THROTTLES
"""Every refusal of the gateway (its ``Denial`` values)."""
