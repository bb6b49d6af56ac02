"""The HTTP transport for Ministry of Interior reports, and the receivers the settings name."""

from __future__ import annotations

import httpx

from saglik.config import Settings
from saglik.services.background import ReportDelivery
from saglik.services.moi_outbox import Destination, Sender


def http_sender(client: httpx.AsyncClient, endpoint: str) -> Sender:
    async def send(body: bytes, headers: dict[str, str]) -> bool:
        response = await client.post(endpoint, content=body, headers=headers)
        return 200 <= response.status_code < 300

    return send


def report_delivery(client: httpx.AsyncClient, settings: Settings) -> ReportDelivery:
    """Live reports to ``SAGLIK_MOI_ENDPOINT`` signed with ``SAGLIK_MOI_SECRET``; test reports
    to ``SAGLIK_MOI_TEST_ENDPOINT`` signed with ``SAGLIK_MOI_TEST_SECRET``, and nowhere else.
    An environment without both is not sent: live reports wait, test reports are recorded not
    sent (``services/background.py``)."""
    live = test = None
    if settings.moi_endpoint and settings.moi_secret:
        live = Destination(
            http_sender(client, settings.moi_endpoint), settings.moi_secret.get_secret_value()
        )
    if settings.moi_test_endpoint and settings.moi_test_secret:
        test = Destination(
            http_sender(client, settings.moi_test_endpoint),
            settings.moi_test_secret.get_secret_value(),
        )
    return ReportDelivery(live, test, settings.moi_concurrency)
