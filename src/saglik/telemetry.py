"""The service's Prometheus metrics, defined once.

A leaf module like ``logging``: any layer may count here (the store its audit commits, the
services their deliveries, the web layer its calls), and it imports nothing of the project.

Labels are the service, the method from the services' fixed method tables (never the caller's
path text) and the audit outcome: nothing personal, and a bounded number of series.

``saglik serve`` runs its workers as processes of their own, so their counts are kept in
prometheus-client's multiprocess mode: the serve command sets ``PROMETHEUS_MULTIPROC_DIR``
before any worker imports this module (the mode is fixed when ``prometheus_client`` is first
imported) and ``GET /metrics`` adds up every worker's files (``web/metrics.py``). Without the
variable, as in tests running the app in-process, the metrics live in the process's registry.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus-client's variable: the directory where every worker process keeps its counts."""

LATENCY_BUCKETS = (
    0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip
"""Seconds. A lookup takes a fraction of a millisecond and a bulk of 500 some 25 ms
(benchmarks/README.md); the tail under load, and a store that stalls, reach into seconds."""

CALLS = Counter(
    "saglik_calls",
    "G2G calls answered, by the outcome their audit record carries (not the HTTP status)",
    ("service", "method", "outcome"),
)
CALL_SECONDS = Histogram(
    "saglik_call_seconds",
    "Time from a G2G call's arrival to its answer, the audit commit included",
    ("service", "method"),
    buckets=LATENCY_BUCKETS,
)
AUDIT_QUEUE_DEPTH = Gauge(
    "saglik_audit_queue_depth",
    "Audit records handed to the group commit and not yet committed, summed over live workers",
    multiprocess_mode="livesum",
)
AUDIT_COMMIT_SECONDS = Histogram(
    "saglik_audit_commit_seconds",
    "Time one group commit of audit records takes",
    buckets=LATENCY_BUCKETS,
)
MOI_DELIVERY_FAILURES = Counter(
    "saglik_moi_delivery_failures",
    "Risky-visitor reports whose delivery attempt to the Ministry of Interior failed",
)
MOI_DELIVERED = Counter(
    "saglik_moi_delivered",
    "Risky-visitor reports the Ministry of Interior acknowledged",
)

_call_children: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}
"""(service, method, outcome) → the labelled children: ``.labels()`` costs three times what
counting does. Bounded like the labels: method and outcome come from fixed sets."""


def record_call(service: str, method: str, outcome: str, started: float) -> None:
    """Counts one answered G2G call; ``started`` is its ``time.perf_counter()`` reading."""
    key = (service, method, outcome)
    children = _call_children.get(key)
    if children is None:
        children = (CALLS.labels(*key), CALL_SECONDS.labels(service, method))
        _call_children[key] = children
    calls, latency = children
    calls.inc()
    latency.observe(time.perf_counter() - started)
