"""The server answers over a real socket on every backend (a canary for the fixtures themselves)."""

from tests.conftest import LiveServer


def test_readyz_reports_ready_when_the_store_is_migrated(server: LiveServer) -> None:
    with server.client() as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}
