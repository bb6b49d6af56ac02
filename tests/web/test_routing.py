"""G2G calls answered in front of Starlette's router: a failure inside a handler is still a
problem-JSON 500 with nothing of the failure in the body, and still reaches the access log."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from saglik.services.hes import HesQueryService
from tests.conftest import Holder
from tests.web.conftest import Caller, assert_http_problem, path
from tests.web.log_support import record_texts, wait_for_access_log


def test_a_failing_handler_answers_a_500_problem_without_its_details(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    live: Caller,
    make_holder: Callable[..., Holder],
) -> None:
    holder = make_holder()

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(f"lookup failed for {holder.identity_number}")

    monkeypatch.setattr(HesQueryService, "check", broken)
    caplog.set_level(logging.INFO)
    response = live.check("check-employee-hes-code", holder.code)
    problem = assert_http_problem(response, 500)
    assert problem["detail"] == "Internal error"
    assert "lookup failed" not in response.text
    access = wait_for_access_log(caplog, path("live", "check-employee-hes-code"), timeout=5.0)
    assert access.fields["status"] == 500  # type: ignore[attr-defined]
    texts = "\n".join(record_texts(caplog.records))
    assert "RuntimeError" in texts
    assert holder.identity_number not in texts


def test_other_http_methods_on_a_g2g_path_still_get_405(live: Caller) -> None:
    response = live.client.get(path("live", "check-employee-hes-code"), auth=live.credential.auth)
    assert response.status_code == 405
