"""The settings object: read from ``SAGLIK_*`` once, secrets masked wherever it is shown (repr,
str, a log line that formats it), and a value it cannot use named by its variable, never
quoted."""

from __future__ import annotations

import logging

import pytest

from saglik.config import Settings, SettingsError, masked_url
from saglik.domain.pseudonym import new_ring

MOI_SECRET = "moi-Hm4c-s3cret-value"
DB_PASSWORD = "db-pa55-w0rd"
PG_URL = f"postgresql://saglik:{DB_PASSWORD}@db.example:5432/saglik"


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every secret a deployment sets; returns the audit key ring's text."""
    ring = new_ring().text()
    monkeypatch.setenv("SAGLIK_DATABASE_URL", PG_URL)
    monkeypatch.setenv("SAGLIK_MOI_ENDPOINT", "https://moi.example/reports")
    monkeypatch.setenv("SAGLIK_MOI_SECRET", MOI_SECRET)
    monkeypatch.setenv("SAGLIK_AUDIT_KEY", ring)
    return ring


def _secrets_in(text: str, ring: str) -> list[str]:
    key = ring.strip().rsplit(":", 1)[1]
    return [s for s in (MOI_SECRET, DB_PASSWORD, key) if s in text]


def test_repr_and_str_mask_every_secret(secret_env: str) -> None:
    settings = Settings.from_env()
    for shown in (repr(settings), str(settings), f"{settings}", f"{settings!r}"):
        assert _secrets_in(shown, secret_env) == [], shown
        assert "postgresql://saglik:***@db.example:5432/saglik" in shown
        assert "moi_secret=SecretStr('**********')" in shown
    # the values are still there for the code that needs them
    assert settings.database_url == PG_URL
    assert settings.moi_secret is not None
    assert settings.moi_secret.get_secret_value() == MOI_SECRET


def test_a_log_line_that_formats_the_settings_masks_them(
    secret_env: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="saglik.test"):
        logging.getLogger("saglik.test").info("settings: %s / %r", Settings.from_env(), 0)
    assert "settings: " in caplog.text
    assert _secrets_in(caplog.text, secret_env) == []


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:///saglik.db", "sqlite:///saglik.db"),
        ("postgresql://ops@db:5432/x", "postgresql://ops@db:5432/x"),
        ("postgresql://ops:pw@db/x", "postgresql://ops:***@db/x"),
        ("postgresql://db/x?user=ops&password=pw", "postgresql://db/x?password=%2A%2A%2A&user=ops"),
        ("not a url with pw inside", "(not a database URL)"),
    ],
)
def test_a_database_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert masked_url(url) == shown


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SAGLIK_TRUSTED_PROXIES", "10.0.0.0/8,secret-looking-proxy"),
        ("SAGLIK_CORS_ORIGINS", "https://secret-looking.example/path"),
        ("SAGLIK_RATE_LIMIT_STORAGE", "secret-looking-scheme://x"),
        ("SAGLIK_ARGON2_MEMORY_KIB", "123456789012"),
        ("SAGLIK_AUDIT_KEY", "k1:" + "5ec2e7" * 10),
        ("SAGLIK_AUDIT_KEY", "k1:" + "5ec2e7" * 10 + "abcd k1:" + "5ec2e7" * 10 + "abcd"),
    ],
)
def test_an_unusable_variable_is_named_and_its_value_never_quoted(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as refused:
        Settings.from_env()
    message = str(refused.value)
    assert message.startswith(f"invalid setting: {variable}: ")
    for part in value.replace(",", " ").split():
        assert part not in message
    assert "secret-looking" not in message
    assert "5ec2e7" not in message
