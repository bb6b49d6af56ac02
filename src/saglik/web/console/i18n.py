"""The console's two languages. Turkish is the default (the operators are Turkish); English is a
switch kept in a cookie. Messages are written in English in the templates and the page modules,
and translated from the gettext catalogues in ``locale/tr/*.po`` (one per area of the console),
read once at start-up with Babel."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from pathlib import Path

from babel.dates import format_date, format_datetime
from babel.messages.pofile import read_po
from starlette.requests import Request

from saglik.domain.obs import ISTANBUL

LOCALES = ("tr", "en")
DEFAULT = "tr"
COOKIE = "saglik_lang"
CATALOGUES = Path(__file__).parent / "locale"

_locale: ContextVar[str] = ContextVar("console_locale", default=DEFAULT)


@cache
def catalogue(locale: str) -> dict[str, str]:
    """msgid → translation for ``locale`` (empty for English, the language of the msgids)."""
    messages: dict[str, str] = {}
    for path in sorted((CATALOGUES / locale).glob("*.po")):
        with path.open("rb") as po:
            for message in read_po(po, locale=locale):
                if message.id and isinstance(message.id, str) and message.string:
                    messages[message.id] = str(message.string)
    return messages


def locale_of(request: Request) -> str:
    chosen = request.cookies.get(COOKIE, DEFAULT)
    return chosen if chosen in LOCALES else DEFAULT


def use(locale: str) -> None:
    """The language of what this request renders (a context variable: one per request)."""
    _locale.set(locale)


def current() -> str:
    return _locale.get()


def gettext(message: str) -> str:
    return catalogue(_locale.get()).get(message, message)


def N_(message: str) -> str:
    """Marks a message for the catalogue where it is defined (a table of labels, a refusal a
    service words); it is translated where it is shown: ``base.html`` translates every refusal
    the services give (the ``translated`` filter), in the page's language."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    return gettext(singular if n == 1 else plural)


def when(moment: datetime | None) -> str:
    """A moment as the operator reads it: Istanbul time, in the page's language."""
    if moment is None:
        return "—"
    return format_datetime(moment, "medium", tzinfo=ISTANBUL, locale=_locale.get())


def bucket_label(moment: datetime, with_date: bool) -> str:
    """A chart's x label: the time of day, with the day when the range spans several."""
    pattern = "dd.MM HH:mm" if with_date else "HH:mm"
    return format_datetime(moment, pattern, tzinfo=ISTANBUL, locale=_locale.get())


def day_label(day: date) -> str:
    return format_date(day, "dd.MM", locale=_locale.get())
