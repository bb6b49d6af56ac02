"""The console's message catalogues against its sources: every message the templates and page
modules show has its Turkish translation (Turkish is the default language, so a missing one
shows English to a Turkish operator), each is translated once, and no translation is dead."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from jinja2.ext import babel_extract

from saglik.web.console import i18n

PACKAGE = Path(i18n.__file__).parent
KEYWORDS = {"_": None, "gettext": None, "N_": None}


def _used() -> set[str]:
    found: set[str] = set()
    for path in PACKAGE.rglob("*.html"):
        options = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}
        for _line, message, _comments, _context in extract_from_file(
            babel_extract, str(path), keywords=KEYWORDS, options=options
        ):
            found.add(message)
    for path in PACKAGE.rglob("*.py"):
        for _line, message, _comments, _context in extract_from_file(
            "python", str(path), keywords=KEYWORDS
        ):
            found.add(message)
    return {m for m in found if isinstance(m, str)}


def _translated() -> Counter[str]:
    ids: Counter[str] = Counter()
    for path in (i18n.CATALOGUES / "tr").glob("*.po"):
        with path.open("rb") as po:
            for message in read_po(po, locale="tr", abort_invalid=True):
                if message.id:
                    assert message.string, f"{path.name}: {message.id!r} has no translation"
                    ids[str(message.id)] += 1
    return ids


def test_every_message_shown_has_a_turkish_translation() -> None:
    missing = _used() - set(_translated())
    assert not missing, f"untranslated: {sorted(missing)}"


def test_each_message_is_translated_in_one_catalogue_only() -> None:
    twice = [m for m, n in _translated().items() if n > 1]
    assert not twice, f"translated more than once: {twice}"


def test_no_translation_is_dead() -> None:
    dead = set(_translated()) - _used()
    assert not dead, f"translations of messages no page shows: {sorted(dead)}"


def test_the_catalogue_is_what_the_console_serves() -> None:
    i18n.use("tr")
    assert i18n.gettext("Sign in") == "Oturum aç"
    i18n.use("en")
    assert i18n.gettext("Sign in") == "Sign in"
