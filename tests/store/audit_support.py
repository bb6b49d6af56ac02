"""Audit rows for the tests that read the trail back (dashboards, their queries)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from saglik.store.audit_writer import AuditRecord


def call(at: datetime, **fields: Any) -> AuditRecord:
    """A successful HES call at ``at``; ``fields`` override any column."""
    values: dict[str, Any] = {
        "env": "live",
        "service": "hes",
        "method": "check-hes-code",
        "status": 200,
        "outcome": "ok",
        "latency_ms": 5.0,
        "client_ip": "192.0.2.1",
    }
    return AuditRecord(occurred_at=at, **{**values, **fields})
