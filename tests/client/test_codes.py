"""Input normalisation: every way a person renders a valid code normalises to it; anything that
cannot be a code is refused before a request is sent."""

from __future__ import annotations

import string

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saglik.client import HesClient, InvalidCode, display_code, is_code, normalize_code

ALPHABET = string.ascii_uppercase + string.digits
codes = st.text(alphabet=ALPHABET, min_size=10, max_size=10)
SEPARATORS = ["-", " ", "\u2010", "\u2013", "\u2014", "\u2212", "\u00a0", "\t", "\u200b", "_"]


@st.composite
def renderings(draw: st.DrawFn) -> tuple[str, str]:
    """A valid code and a rendering of it: separators anywhere, each character in either case."""
    code = draw(codes)
    out = [draw(st.lists(st.sampled_from(SEPARATORS), max_size=2))]
    for char in code:
        lower = draw(st.booleans())
        out.append([char.lower() if lower else char])
        out.append(draw(st.lists(st.sampled_from(SEPARATORS), max_size=2)))
    return code, "".join("".join(part) for part in out)


@given(renderings())
@settings(max_examples=300)
def test_any_rendering_of_a_valid_code_normalises_to_it(case: tuple[str, str]) -> None:
    code, rendering = case
    assert normalize_code(rendering) == code
    assert normalize_code(display_code(rendering)) == code


@given(codes, st.from_regex(r"[1-9][0-9]{10}", fullmatch=True))
def test_a_qr_payload_gives_its_code(code: str, tckn: str) -> None:
    assert normalize_code(f"{tckn}|{code}") == code
    assert normalize_code(f" {tckn} | {code.lower()} ") == code


def _not_a_code(text: str) -> bool:
    kept = "".join(c for c in text if (c.isascii() and c.isalnum()) or c in "İı")
    return len(kept) != 10


@given(st.text(max_size=30).filter(_not_a_code))
@settings(max_examples=300)
def test_junk_raises_invalid_code_without_a_request(junk: str) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    transport = httpx.MockTransport(handler)
    with (
        HesClient("http://g2g.example/x", "u", "p", transport=transport) as client,
        pytest.raises(InvalidCode),
    ):
        client.check_employee(junk)
    assert sent == []
    assert not is_code(junk)


@pytest.mark.parametrize(
    "text",
    [
        "A1S1-0001-S",  # nine
        "A1S1-0001-S12",  # eleven
        "A1S1·0001·S1",  # not a separator
        "A1S10001Sß",  # "ß".upper() is "SS": must not make ten out of nine
        "A1S10001SÇ",
        "12345|A1S10001S1",  # not a T.C. Kimlik No in front
        "1|2|A1S10001S1",
        "76883560160|",
    ],
)
def test_refusals(text: str) -> None:
    with pytest.raises(InvalidCode) as caught:
        normalize_code(text)
    assert isinstance(caught.value, ValueError)


def test_the_refusal_never_repeats_the_input() -> None:
    with pytest.raises(InvalidCode) as caught:
        normalize_code("76883560160|A1S1")
    assert "76883560160" not in str(caught.value)
    with pytest.raises(InvalidCode) as caught:
        normalize_code("SECRET-TEXT-HERE")
    assert "SECRET" not in str(caught.value)


def test_turkish_locale_capitals_and_types() -> None:
    assert normalize_code("a1sİ-0001-s1") == "A1SI0001S1"
    assert normalize_code("a1sı-0001-s1") == "A1SI0001S1"
    assert display_code("a1s10001s1") == "A1S1-0001-S1"
    with pytest.raises(InvalidCode, match="text"):
        normalize_code(1234567890)  # type: ignore[arg-type]
