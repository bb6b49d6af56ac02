"""``saglik serve`` with every secret setting given (a database password, the Ministry of
Interior signing secret, the audit key ring): none of them reaches its output or its logs, even
while a report delivery fails and is logged."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from saglik.services.fixtures import hes_fixtures
from tests.cli.conftest import Store
from tests.cli.test_serve import _credentials, _spawn, _wait_for_stdout, _wait_ready
from tests.pg_support import pg_database
from tests.ports import free_port

DB_PASSWORD = "db-pa55-" + uuid.uuid4().hex[:8]  # trust authentication ignores it
MOI_SECRET = "moi-s3cret-" + uuid.uuid4().hex[:8]
MOI_TEST_SECRET = "moi-test-s3cret-" + uuid.uuid4().hex[:8]
RISKY = next(fx.code for fx in hes_fixtures() if fx.category == "Riskli")
VISIT = {"city": "ANKARA", "district": "ÇANKAYA", "explicit_address": "Bilkent, 06800"}


def test_no_secret_setting_reaches_the_output_or_the_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ring_key = uuid.uuid4().hex * 2
    monkeypatch.setenv("SAGLIK_AUDIT_KEY", f"k1:{ring_key}")
    monkeypatch.setenv("SAGLIK_MOI_SECRET", MOI_SECRET)
    monkeypatch.setenv("SAGLIK_MOI_ENDPOINT", f"http://127.0.0.1:{free_port()}/reports")
    # the visit below is the test environment's: its report goes to the sandbox receiver only
    monkeypatch.setenv("SAGLIK_MOI_TEST_SECRET", MOI_TEST_SECRET)
    monkeypatch.setenv("SAGLIK_MOI_TEST_ENDPOINT", f"http://127.0.0.1:{free_port()}/sandbox")
    with pg_database(f"saglik_secrets_{uuid.uuid4().hex[:12]}") as url:
        with_password = make_url(url).set(password=DB_PASSWORD)
        served = _spawn(Store(tmp_path / "unused", with_password.render_as_string(False)), tmp_path)
        try:
            _wait_ready(served)
            _wait_for_stdout(served, "listening on")
            sandbox = _credentials(served.out)
            with served.client(auth=sandbox) as client:
                reply = client.post(
                    "/services/g2g/test/saglik/hes/check-visitor-hes-code",
                    json={"hes_code": RISKY, **VISIT},
                )
                assert reply.status_code == 200, reply.text
            deadline = time.monotonic() + 15
            while "MoI report delivery failed" not in served.err:
                assert time.monotonic() < deadline, served.err
                time.sleep(0.1)
            assert served.stop() == 0
        finally:
            served.kill()
    shown = served.out + served.err
    for secret in (DB_PASSWORD, MOI_SECRET, MOI_TEST_SECRET, ring_key):
        assert secret not in shown
