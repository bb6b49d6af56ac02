"""The sandbox receiver's settings (issue 14 §4): ``SAGLIK_MOI_TEST_ENDPOINT`` is never the
Ministry's address, and signs with a key of its own, or the server does not start; the message
names the variables, never their values."""

from __future__ import annotations

import pytest

from saglik.config import Settings, SettingsError

LIVE_URL = "https://moi.example/reports"
LIVE_SECRET = "live-secret-value-1"
TEST_URL = "https://sandbox.example/moi"
TEST_SECRET = "test-secret-value-2"


@pytest.fixture
def moi_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("SAGLIK_MOI_ENDPOINT", LIVE_URL)
    monkeypatch.setenv("SAGLIK_MOI_SECRET", LIVE_SECRET)
    return monkeypatch


def test_a_test_receiver_with_its_own_key_is_taken(moi_env: pytest.MonkeyPatch) -> None:
    moi_env.setenv("SAGLIK_MOI_TEST_ENDPOINT", TEST_URL)
    moi_env.setenv("SAGLIK_MOI_TEST_SECRET", TEST_SECRET)
    settings = Settings.from_env()
    assert settings.moi_test_endpoint == TEST_URL
    assert settings.moi_test_secret is not None
    assert settings.moi_test_secret.get_secret_value() == TEST_SECRET
    assert TEST_SECRET not in repr(settings)


def test_no_test_receiver_is_the_default(moi_env: pytest.MonkeyPatch) -> None:
    settings = Settings.from_env()
    assert (settings.moi_test_endpoint, settings.moi_test_secret) == (None, None)


@pytest.mark.parametrize(
    ("endpoint", "secret", "says"),
    [
        (TEST_URL, None, "needs SAGLIK_MOI_TEST_SECRET"),
        (LIVE_URL, TEST_SECRET, "must not be SAGLIK_MOI_ENDPOINT"),
        (LIVE_URL.upper() + "/", TEST_SECRET, "must not be SAGLIK_MOI_ENDPOINT"),
        (TEST_URL, LIVE_SECRET, "other than SAGLIK_MOI_SECRET"),
    ],
)
def test_a_test_receiver_that_could_reach_or_fool_the_ministry_is_refused(
    moi_env: pytest.MonkeyPatch, endpoint: str, secret: str | None, says: str
) -> None:
    moi_env.setenv("SAGLIK_MOI_TEST_ENDPOINT", endpoint)
    if secret is not None:
        moi_env.setenv("SAGLIK_MOI_TEST_SECRET", secret)
    with pytest.raises(SettingsError) as refused:
        Settings.from_env()
    message = str(refused.value)
    assert message.startswith("invalid setting: SAGLIK_MOI_TEST_ENDPOINT: ")
    assert says in message
    for value in (LIVE_URL, LIVE_SECRET, TEST_URL, TEST_SECRET, "moi.example", "sandbox"):
        assert value not in message
