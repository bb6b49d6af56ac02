"""The console's forms under arbitrary input, over a real socket: whatever a form carries — any
text in any field, fields missing or repeated — the answer is a page (200, 201, 303, 4xx) with the
console's frame, never a 500, and no value sent is echoed into an error message.

The pages parse every field themselves (``pages.text``/``number``/``moment``,
``death_form_drafts``); the services then refuse what they refuse."""

from __future__ import annotations

from urllib.parse import urlencode

import hypothesis
from hypothesis import strategies as st

from tests.conftest import LiveServer
from tests.web.console.console_support import ConsoleClient, sign_in

SETTINGS = hypothesis.settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    database=None,
)

FORM = "application/x-www-form-urlencoded"
FORMS = {
    "/console/death-forms/new": (
        "env",
        "identity_number",
        "passport_no",
        "nationality",
        "first_name",
        "last_name",
        "birth_date",
        "sex",
        "died_at",
        "place_of_death_type",
        "death_province",
        "death_district",
        "residence_province",
        "manner",
        "maternal_status",
        "autopsy",
        "injured_at",
        "cause_0_kind",
        "cause_0_code",
        "cause_0_interval",
        "cause_7_kind",
        "cause_7_code",
    ),
    "/console/persons/find": ("env", "identity_number"),
    "/console/persons/vaccinations": ("env", "identity_number", "dose", "vaccine", "at"),
    "/console/users": (
        "username",
        "institution",
        "env",
        "methods",
        "province_code",
        "district_code",
        "ip_allowlist",
        "rate_limit",
    ),
    "/console/audit/subject": ("identity_number", "code", "since", "until"),
    "/console/tokens": ("name",),
}
"""Each form's fields, as its page names them."""
PERSONAL = frozenset(
    {
        "/console/death-forms/new",
        "/console/persons/find",
        "/console/persons/vaccinations",
        "/console/audit/subject",
    }
)
"""The forms whose values may be personal data: no refusal may repeat one."""

TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40
) | st.sampled_from(["", "0", "-1", "34", "99999999999", "2026-06-15T10:00", "I21.9", "²", "1e9"])


@st.composite
def submissions(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]]]:
    path = draw(st.sampled_from(sorted(FORMS)))
    names = draw(st.lists(st.sampled_from(FORMS[path]), max_size=12))
    return path, [(name, draw(TEXT)) for name in names]


def test_no_form_input_makes_a_console_page_fail(server: LiveServer) -> None:
    console: ConsoleClient = sign_in(server)

    @SETTINGS
    @hypothesis.given(submissions())
    def submit(submission: tuple[str, list[tuple[str, str]]]) -> None:
        path, fields = submission
        body = urlencode([*fields, ("csrf_token", console.csrf)])
        answer = console.http.post(path, content=body, headers={"Content-Type": FORM})
        assert answer.status_code < 500, (path, fields)
        if answer.status_code in (303,):
            return
        assert answer.headers["content-type"].startswith("text/html")
        if path not in PERSONAL:
            return  # a token's or user's name is the operator's own, quoted in refusals
        alerts = answer.text.split('role="alert"')[1:]
        for value in {v for _, v in fields if len(v.strip()) >= 6}:
            assert not [a for a in alerts if value in a.split("</div>")[0]], (path, value)

    submit()
    console.http.close()


def test_a_refusal_quoting_a_percent_sign_is_shown_as_written(console: ConsoleClient) -> None:
    """Found by the fuzzing above: a refusal is text, not a format string (``%¨`` made Jinja's
    ``_()`` raise, a 500)."""
    answer = console.post(
        "/console/users",
        {"username": "fuzz-user", "institution": "Yok %¨ %(x)s Kurumu", "env": "test"},
    )
    assert answer.status_code == 404
    assert "Yok %¨ %(x)s Kurumu" in answer.text
