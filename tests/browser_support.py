"""Debian's chromium driven by Playwright, for the tests that need a real browser.

Without ``/usr/bin/chromium`` (or Playwright) such a test is skipped, except under CI=true, where
it fails: ``.ci/run`` installs chromium first. Browsers are never downloaded."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

CHROMIUM = Path("/usr/bin/chromium")


def unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: .ci/run installs it)")
    pytest.skip(reason)


def launched_browser() -> Iterator[Any]:
    """The body of a ``browser`` fixture: one chromium for the fixture's scope."""
    if not CHROMIUM.exists():
        unavailable(f"no browser at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        # --no-sandbox: the suite may run as root (CI does), where chromium's sandbox refuses
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()
