"""A death form as the console's page holds it: every field as typed text and the lines of the
cause-of-death chain laid out as on the WHO certificate, to and from ``DeathFormInput``.

A refused form is answered field by field: each problem names its control and label and the
service's reason, never the value sent, and the page keeps what was typed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from starlette.datastructures import FormData

from saglik.domain.obs import ISTANBUL, DeathRecord
from saglik.services.obs import DeathFormInput, submitted_form
from saglik.web.console.i18n import N_
from saglik.web.console.pages import text, whole

PART_ONE = (1, 2, 3, 4)
"""``CauseInput.kind`` of the certificate's Part I lines (a)–(d): immediate → underlying."""
PART_TWO = 5
"""``CauseInput.kind`` of Part II: other significant conditions."""
PART_TWO_LINES = 3
MAX_CAUSES = 10
"""``DeathFormInput.causes`` holds at most this many."""
MAX_LINES = 20
"""Cause lines read from a form: more than any layout of ``MAX_CAUSES`` causes shows."""
LINE_NAMES = {1: "I (a)", 2: "I (b)", 3: "I (c)", 4: "I (d)", PART_TWO: "II"}

SCALARS = tuple(name for name in DeathFormInput.model_fields if name != "causes")
TIMES = ("died_at", "injured_at")
NUMBERS = (
    "sex",
    "place_of_death_type",
    "death_province",
    "death_district",
    "residence_province",
    "residence_district",
    "manner",
    "maternal_status",
)
MAX_DIGITS = 9
"""A code longer than this is no code, and too large for the store to look up."""

LABELS = {
    "env": N_("Environment"),
    "identity_number": N_("T.C. Kimlik No"),
    "passport_no": N_("Passport number"),
    "nationality": N_("Nationality (country code)"),
    "first_name": N_("First name"),
    "last_name": N_("Last name"),
    "father_name": N_("Father's name"),
    "mother_name": N_("Mother's name"),
    "birth_date": N_("Date of birth"),
    "birth_place": N_("Place of birth"),
    "sex": N_("Sex"),
    "died_at": N_("Date and time of death"),
    "place_of_death_type": N_("Place of death type"),
    "death_province": N_("Province of death"),
    "death_district": N_("District of death"),
    "residence_province": N_("Province of residence"),
    "residence_district": N_("District of residence"),
    "manner": N_("Manner of death"),
    "maternal_status": N_("Maternal status (women only)"),
    "autopsy": N_("Autopsy"),
    "injured_at": N_("Date and time of injury"),
    "causes": N_("Cause of death"),
}
"""Each field's label (an English msgid, translated where it is shown)."""
MENTIONED = re.compile(r"\b(" + "|".join(LABELS) + r")\b")
"""A field named in a message of the form's own checks or of the service."""


# --- the form as typed ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CauseLine:
    """One line of the certificate's chain; ``index`` names its controls (``cause_<index>_…``)."""

    index: int
    kind: int
    code: str = ""
    interval: str = ""

    @property
    def name(self) -> str:
        return LINE_NAMES.get(self.kind, "?")


@dataclass(frozen=True, slots=True)
class Draft:
    """A death form as the page holds it: every field as text, and the cause lines."""

    values: dict[str, str]
    lines: list[CauseLine]

    def part(self, kinds: Sequence[int]) -> list[CauseLine]:
        return [line for line in self.lines if line.kind in kinds]

    def others(self) -> list[CauseLine]:
        """Part II, and any line whose kind the layout does not know (shown to be fixed)."""
        return [line for line in self.lines if line.kind not in PART_ONE]


def _layout(filled: Sequence[tuple[int, str, str]]) -> list[CauseLine]:
    """The certificate's lines: each of (a)–(d) at least once, then Part II with room to add
    one; filled lines keep their order within their part."""
    chain: list[tuple[int, str, str]] = []
    for kind in PART_ONE:
        chain += [line for line in filled if line[0] == kind] or [(kind, "", "")]
    others = [line for line in filled if line[0] not in PART_ONE]
    room = 1 if len(filled) < MAX_CAUSES else 0
    chain += others + [(PART_TWO, "", "")] * max(PART_TWO_LINES - len(others), room)
    return [CauseLine(i, kind, code, interval) for i, (kind, code, interval) in enumerate(chain)]


def blank_draft() -> Draft:
    return Draft({"nationality": "TR"}, _layout([]))


def posted_draft(form: FormData) -> Draft:
    values = {name: text(form, name) for name in ("env", *SCALARS)}
    filled = []
    for n in range(MAX_LINES):
        kind = text(form, f"cause_{n}_kind")
        code, interval = text(form, f"cause_{n}_code"), text(form, f"cause_{n}_interval")
        if kind and (code or interval):
            filled.append((whole(kind, 2) or 0, code, interval))
    return Draft(values, _layout(filled))


def _as_text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name in TIMES:
        local = datetime.fromisoformat(value).astimezone(ISTANBUL)
        return local.strftime("%Y-%m-%dT%H:%M:%S" if local.second else "%Y-%m-%dT%H:%M")
    return str(value)


def stored_draft(record: DeathRecord) -> Draft:
    """The stored form to correct: sent back unchanged, it changes nothing."""
    submitted = submitted_form(record)
    values = {name: _as_text(name, submitted[name]) for name in SCALARS}
    filled = [(c.kind, c.icd_code, c.interval or "") for c in record.causes]
    return Draft(values, _layout(filled))


# --- refusals, field by field -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """What to fix: the control (its name; None for the form as a whole), its label, and the
    reason, which names the field and never the value."""

    field: str | None
    label: str
    message: str
    line: str = ""


def mentioned(message: str) -> Problem:
    """A message of a whole-form check names the field it is about: that field is marked."""
    found = MENTIONED.search(message)
    if found is None:
        return Problem(None, N_("The whole form"), message)
    name = found.group(1)
    return Problem("cause_0_code" if name == "causes" else name, LABELS[name], message)


def _problem(error: ErrorDetails, lines: Sequence[CauseLine]) -> Problem:
    loc, message = error["loc"], error["msg"].removeprefix("Value error, ")
    if not loc:
        return mentioned(message)
    if loc[0] != "causes":
        return Problem(str(loc[0]), LABELS.get(str(loc[0]), str(loc[0])), message)
    at = loc[1] if len(loc) > 1 else None
    if not isinstance(at, int) or at >= len(lines):
        return Problem("cause_0_code", LABELS["causes"], message)
    line = lines[at]
    if loc[2:] == ("interval",):
        return Problem(
            f"cause_{line.index}_interval", N_("Cause %(line)s: interval"), message, line.name
        )
    return Problem(
        f"cause_{line.index}_code", N_("Cause %(line)s: ICD-10 code"), message, line.name
    )


def parse_draft(draft: Draft) -> DeathFormInput | list[Problem]:
    """The ``DeathFormInput`` of a typed form (an empty field is an absent one), or every reason
    it is refused."""
    raw: dict[str, Any] = {}
    problems: list[Problem] = []
    for name in SCALARS:
        value = draft.values.get(name, "")
        if name in NUMBERS and value and not (value.isascii() and value.isdigit()):
            problems.append(Problem(name, LABELS[name], f"{name} must be a whole number"))
        elif name in NUMBERS and len(value) > MAX_DIGITS:
            problems.append(Problem(name, LABELS[name], f"{name} is not a known code"))
        elif value:
            raw[name] = value
    sent = [line for line in draft.lines if line.code or line.interval]
    # an empty code is absent, so that it is refused as a missing field, not as a null one
    raw["causes"] = [
        {
            "kind": line.kind,
            **({"icd_code": line.code} if line.code else {}),
            "interval": line.interval or None,
        }
        for line in sent
    ]
    try:
        form = DeathFormInput.model_validate(raw)
    except ValidationError as exc:
        marked = {p.field for p in problems}
        found = [_problem(e, sent) for e in exc.errors(include_url=False, include_input=False)]
        return problems + [p for p in found if p.field not in marked]
    return problems or form
