"""Credentials from the environment or a 0600 TOML file; never echoed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from saglik.client import (
    SANDBOX_LIVE,
    SANDBOX_TEST,
    ConfigError,
    Credentials,
    HesClient,
    ObsClient,
    Preset,
    load_credentials,
    resolve_base_url,
)

SECRET = "s3cret-Passw0rd!"


def write_config(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_presets() -> None:
    assert Preset.SANDBOX_LIVE == SANDBOX_LIVE == "http://127.0.0.1:8080/services/g2g/saglik"
    assert Preset.SANDBOX_TEST == SANDBOX_TEST == "http://127.0.0.1:8080/services/g2g/test/saglik"
    assert resolve_base_url("live") == SANDBOX_LIVE
    assert resolve_base_url(" TEST ") == SANDBOX_TEST
    assert resolve_base_url("https://hesservis.example/services/g2g/saglik/") == (
        "https://hesservis.example/services/g2g/saglik"
    )
    with pytest.raises(ConfigError, match="http"):
        resolve_base_url("ftp://x")
    with pytest.raises(ConfigError, match="credentials"):
        resolve_base_url("https://user:pw@host/services/g2g/saglik")


@pytest.mark.parametrize(
    ("given", "base"),
    [
        ("http://127.0.0.1:8080/services/g2g/test/saglik/hes", SANDBOX_TEST),
        ("http://127.0.0.1:8080/services/g2g/test/saglik/hes/", SANDBOX_TEST),
        ("http://127.0.0.1:8080/services/g2g/saglik/OBS", SANDBOX_LIVE),
        ("http://127.0.0.1:8080/services/g2g/saglik/obs/", SANDBOX_LIVE),
        ("http://127.0.0.1:8080/services/g2g/saglik/hes/check-hes-codes", SANDBOX_LIVE),
        ("https://gw.example/services/g2g/saglik/OBS/GetTumOlumlerByDate", None),
        ("https://gw.example/hes", "https://gw.example"),
    ],
)
def test_a_base_url_that_names_a_service_is_refused_with_the_base_to_use(
    given: str, base: str | None
) -> None:
    expected = base or "https://gw.example/services/g2g/saglik"
    with pytest.raises(ConfigError) as caught:
        resolve_base_url(given)
    message = str(caught.value)
    assert "base URL ends before /hes/ or /OBS/" in message
    assert f"use {expected}," in message


def test_a_deployment_prefix_may_hold_a_hes_segment_further_up() -> None:
    base = "https://gw.example/hes/services/g2g/saglik"
    assert resolve_base_url(base) == base


def test_the_first_call_never_goes_out_to_a_service_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="/OBS"):
        HesClient("http://127.0.0.1:8080/services/g2g/test/saglik/OBS", "u", "p")
    path = write_config(tmp_path / "c.toml", 'base_url = "http://h/services/g2g/saglik/hes"\n')
    with pytest.raises(ConfigError, match="use http://h/services/g2g/saglik,"):
        load_credentials(
            config_path=path, environ={"SAGLIK_CLIENT_USERNAME": "u", "SAGLIK_CLIENT_PASSWORD": "p"}
        )


def test_environment_only_never_opens_the_file(tmp_path: Path) -> None:
    unsafe = write_config(tmp_path / "c.toml", 'username = "x"', mode=0o644)
    env = {
        "SAGLIK_CLIENT_ENV": "live",
        "SAGLIK_CLIENT_USERNAME": "kurum1",
        "SAGLIK_CLIENT_PASSWORD": SECRET,
        "SAGLIK_CLIENT_CONFIG": str(unsafe),
    }
    assert load_credentials(environ=env) == Credentials(SANDBOX_LIVE, "kurum1", SECRET)
    env["SAGLIK_CLIENT_BASE_URL"] = "https://g2g.example/services/g2g/test/saglik"
    assert load_credentials(environ=env).base_url == "https://g2g.example/services/g2g/test/saglik"


def test_a_0600_file_fills_what_the_environment_leaves_out(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "client.toml", f'env = "test"\nusername = "fromfile"\npassword = "{SECRET}"\n'
    )
    creds = load_credentials(config_path=path, environ={"SAGLIK_CLIENT_USERNAME": "fromenv"})
    assert creds == Credentials(SANDBOX_TEST, "fromenv", SECRET)
    by_variable = load_credentials(environ={"SAGLIK_CLIENT_CONFIG": str(path)})
    assert by_variable.username == "fromfile"
    custom = load_credentials(env_prefix="MY_", environ={"MY_CONFIG": str(path), "MY_ENV": "live"})
    assert custom.base_url == SANDBOX_LIVE


def test_the_default_file_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".config" / "saglik").mkdir(parents=True)
    write_config(
        tmp_path / ".config" / "saglik" / "client.toml",
        'base_url = "https://g2g.example/services/g2g/saglik"\n'
        f'username = "u"\npassword = "{SECRET}"',
    )
    assert load_credentials(environ={}).base_url == "https://g2g.example/services/g2g/saglik"


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = write_config(tmp_path / "client.toml", f'username = "u"\npassword = "{SECRET}"', mode)
    with pytest.raises(ConfigError, match="chmod 600") as caught:
        load_credentials(config_path=path, environ={})
    assert f"{mode:04o}" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_missing_or_malformed_configuration(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SAGLIK_CLIENT_USERNAME"):
        load_credentials(config_path=tmp_path / "absent.toml", environ={})
    bad = write_config(tmp_path / "bad.toml", 'password = "x" = "y"')
    with pytest.raises(ConfigError, match="cannot read") as caught:
        load_credentials(config_path=bad, environ={})
    assert '"x"' not in str(caught.value)  # the file's text (a password) is not echoed
    wrong_type = write_config(tmp_path / "t.toml", "username = 5\npassword = 'p'")
    with pytest.raises(ConfigError, match="username must be a string"):
        load_credentials(config_path=wrong_type, environ={})
    with pytest.raises(ConfigError, match="live or test"):
        load_credentials(
            environ={
                "SAGLIK_CLIENT_ENV": "prod",
                "SAGLIK_CLIENT_USERNAME": "u",
                "SAGLIK_CLIENT_PASSWORD": "p",
            },
            config_path=tmp_path / "absent.toml",
        )


def test_without_a_base_url_the_sandbox_test_environment_is_used(tmp_path: Path) -> None:
    env = {"SAGLIK_CLIENT_USERNAME": "u", "SAGLIK_CLIENT_PASSWORD": SECRET}
    creds = load_credentials(environ=env, config_path=tmp_path / "absent.toml")
    assert creds.base_url == SANDBOX_TEST


def test_reprs_never_show_the_password() -> None:
    creds = Credentials(SANDBOX_TEST, "kurum1", SECRET)
    assert SECRET not in repr(creds)
    assert SECRET not in str(creds)
    assert "kurum1" in repr(creds)
    for client in (HesClient.from_credentials(creds), ObsClient.from_credentials(creds)):
        with client:
            assert SECRET not in repr(client)
            assert repr(client) == (
                f"{type(client).__name__}(base_url='{SANDBOX_TEST}', username='kurum1')"
            )
