"""The HTTP transport for Ministry of Interior reports."""

from __future__ import annotations

import httpx

from saglik.services.moi_outbox import Sender


def http_sender(client: httpx.AsyncClient, endpoint: str) -> Sender:
    async def send(body: bytes, headers: dict[str, str]) -> bool:
        response = await client.post(endpoint, content=body, headers=headers)
        return 200 <= response.status_code < 300

    return send
