"""Where the client is pointed and with which credentials.

A *base URL* is everything before the service segment: the client appends ``/hes/<method>`` for
HES and ``/OBS/<Method>`` for ÖBS. So the sandbox's test environment is
``http://host:8080/services/g2g/test/saglik`` and the Ministry's live HES service is
``https://hesservis.turkiye.gov.tr/services/g2g/saglik``; any other deployment is any URL that
ends right before ``/hes/`` or ``/OBS/``.

Credentials come from the environment or from a TOML file that only its owner can read — never
from the command line, where every user of the machine can read them in the process list.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from saglik.client.errors import ConfigError

SANDBOX_LIVE = "http://127.0.0.1:8080/services/g2g/saglik"
SANDBOX_TEST = "http://127.0.0.1:8080/services/g2g/test/saglik"
DEFAULT_CONFIG_PATH = Path("~/.config/saglik/client.toml")


class Preset(StrEnum):
    """The sandbox (``saglik serve`` on its default port) environments by name."""

    SANDBOX_LIVE = SANDBOX_LIVE
    SANDBOX_TEST = SANDBOX_TEST


_ENV_NAMES: Mapping[str, str] = {"live": SANDBOX_LIVE, "test": SANDBOX_TEST}


def resolve_base_url(value: str) -> str:
    """``live`` / ``test`` → the sandbox presets; any other value is taken as a base URL.

    A URL carrying ``user:password@`` is refused: credentials in a URL end up in logs, proxies
    and shell history, which is exactly what the separate username/password avoid.
    """
    text = value.strip()
    if text.lower() in _ENV_NAMES:
        return _ENV_NAMES[text.lower()]
    if not text.startswith(("http://", "https://")):
        # The value is not quoted back: it may be a mistyped password or carry one.
        raise ConfigError("base URL must start with http:// or https:// (or be live or test)")
    authority = text.split("://", 1)[1].split("/", 1)[0]
    if "@" in authority:
        raise ConfigError("base URL must not carry credentials; give username and password apart")
    return _without_service_segment(text.rstrip("/"))


_SERVICE_SEGMENTS = frozenset({"hes", "obs"})


def _without_service_segment(url: str) -> str:
    """A base URL that already names a service (``…/hes``, ``…/OBS/GetTumOlumlerByDate``) would
    answer every call with a 404; say what the base URL is instead."""
    scheme, _, rest = url.partition("://")
    authority, _, path = rest.partition("/")
    segments = path.split("/") if path else []
    # The service segment last (…/hes) or before a method name (…/hes/check-hes-codes); a
    # deployment may well have a "hes" further up its own prefix.
    for index in range(max(0, len(segments) - 2), len(segments)):
        segment = segments[index]
        if segment.lower() in _SERVICE_SEGMENTS:
            base = "/".join([f"{scheme}://{authority}", *segments[:index]])
            raise ConfigError(
                f"the base URL ends before /hes/ or /OBS/ (the client adds them and the method): "
                f"use {base}, not a URL with /{segment}"
            )
    return url


@dataclass(frozen=True)
class Credentials:
    """A base URL with the service user's username and password."""

    base_url: str
    username: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        # The password never appears, not even masked with its length.
        return f"Credentials(base_url={self.base_url!r}, username={self.username!r})"


def _read_config_file(path: Path) -> dict[str, str]:
    try:
        info = path.stat()
    except FileNotFoundError:
        return {}
    if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"refusing to read {path}: its mode {stat.S_IMODE(info.st_mode):04o} lets other users "
            f"read the password; run: chmod 600 {path}"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {type(exc).__name__}") from None
    values: dict[str, str] = {}
    for key in ("base_url", "env", "username", "password"):
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ConfigError(f"{path}: {key} must be a string")
        values[key] = value
    return values


def load_credentials(
    *,
    env_prefix: str = "SAGLIK_CLIENT_",
    config_path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """Credentials from ``<prefix>BASE_URL`` (or ``<prefix>ENV=live|test``), ``<prefix>USERNAME``
    and ``<prefix>PASSWORD``; what they leave out comes from the TOML file (``config_path``, else
    ``<prefix>CONFIG``, else ``~/.config/saglik/client.toml``) with the same keys in lower case
    (``base_url`` or ``env``, ``username``, ``password``).

    The environment wins field by field, and the file is not opened at all when the environment
    has everything. A file whose mode lets group or others in is refused (it must be ``0600``).
    Without a base URL anywhere the sandbox's test environment is used: the safe default is the
    one that cannot reach real people's data.
    """
    env = os.environ if environ is None else environ

    def from_env(name: str) -> str | None:
        value = env.get(env_prefix + name)
        return value if value else None

    values = {
        "base_url": from_env("BASE_URL"),
        "env": from_env("ENV"),
        "username": from_env("USERNAME"),
        "password": from_env("PASSWORD"),
    }
    complete = values["username"] and values["password"] and (values["base_url"] or values["env"])
    if not complete:
        if config_path is not None:
            path = Path(config_path)
        else:
            path = Path(from_env("CONFIG") or DEFAULT_CONFIG_PATH)
        file_values = _read_config_file(path.expanduser())
        for key, value in file_values.items():
            if values[key] is None:
                values[key] = value
    username, password = values["username"], values["password"]
    if not username or not password:
        raise ConfigError(
            f"no credentials: set {env_prefix}USERNAME and {env_prefix}PASSWORD, or write "
            f"username and password to {DEFAULT_CONFIG_PATH} (mode 0600)"
        )
    if values["base_url"]:
        base_url = resolve_base_url(values["base_url"])
    elif values["env"]:
        if values["env"].lower() not in _ENV_NAMES:
            raise ConfigError(f"{env_prefix}ENV must be live or test, not {values['env']!r}")
        base_url = _ENV_NAMES[values["env"].lower()]
    else:
        base_url = SANDBOX_TEST
    return Credentials(base_url=base_url, username=username, password=password)


__all__ = [
    "DEFAULT_CONFIG_PATH",
    "SANDBOX_LIVE",
    "SANDBOX_TEST",
    "Credentials",
    "Preset",
    "load_credentials",
    "resolve_base_url",
]
