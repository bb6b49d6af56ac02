"""``SAGLIK_ICD_NAMES``: an operator's CSV of ICD-10 names over the WHO titles — what a file may
hold, the one line a bad file stops the start with, and that the one ``IcdNames.name`` is what the
completion shows and searches. (Over a socket: tests/web/test_obs_icd_names.py.)"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from pydantic import ValidationError

from saglik.config import Settings, SettingsError
from saglik.services.icd_lookup import IcdLookup
from saglik.services.icd_names import MAX_NAME, WHO_TITLES, IcdNames, IcdNamesError, load

_files = itertools.count()
MI_TR = "Akut miyokard enfarktüsü, tanımlanmamış"
ATHEROSCLEROSIS_TR = "Aterosklerotik kalp hastalığı"
STROKE_TR = "İnme, kanama veya enfarktüs olarak belirtilmemiş"


def write(tmp_path: Path, text: str) -> Path:
    """A file of its own each time: a table is read once per process and file."""
    path = tmp_path / f"names-{next(_files)}.csv"
    path.write_text(text, encoding="utf-8")
    return path


def names_of(tmp_path: Path, text: str) -> IcdNames:
    return load(write(tmp_path, text))


def refusal(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / f"bad-{next(_files)}.csv"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(IcdNamesError) as refused:
        load(path)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(str(path.absolute())), message
    return message


# --- the names ---------------------------------------------------------------------------------


def test_without_a_file_every_code_has_its_who_title() -> None:
    assert load(None) is WHO_TITLES
    assert WHO_TITLES.name("I21.9") == "Acute myocardial infarction, unspecified"
    assert WHO_TITLES.name("I21") == "Acute myocardial infarction"
    assert WHO_TITLES.name("Z99.9") is not None
    assert WHO_TITLES.name("nonsense") is None


def test_the_files_names_replace_the_who_titles_of_its_codes_only(tmp_path: Path) -> None:
    names = names_of(tmp_path, f'code,name\nI21.9,"{MI_TR}"\nI25.1,{ATHEROSCLEROSIS_TR}\n')
    assert names.name("I21.9") == MI_TR
    assert names.name("I25.1") == ATHEROSCLEROSIS_TR
    assert names.name("E11.9") == "Type 2 diabetes mellitus without complications"
    assert names.name("I21") == "Acute myocardial infarction"
    assert names.name("nonsense") is None


def test_a_code_is_written_with_or_without_its_dot_in_any_case(tmp_path: Path) -> None:
    names = names_of(tmp_path, f"i219,'Akut'\n  I25.1 , {ATHEROSCLEROSIS_TR}  \nA00,Kolera\n")
    assert dict(names.replaced) == {
        "I21.9": "'Akut'",  # a quote that is not CSV's is part of the name
        "I25.1": ATHEROSCLEROSIS_TR,
        "A00": "Kolera",
    }


def test_the_header_is_optional_and_may_follow_a_byte_order_mark_and_blank_rows(
    tmp_path: Path,
) -> None:
    for text in (
        "I25.1,Kalp\n",
        "code,name\nI25.1,Kalp\n",
        "\ufeffCode , NAME\r\nI25.1,Kalp\r\n",
        "\n\ncode,name\n\nI25.1,Kalp\n\n",
    ):
        assert dict(names_of(tmp_path, text).replaced) == {"I25.1": "Kalp"}, text


def test_spaces_in_a_name_are_collapsed(tmp_path: Path) -> None:
    assert names_of(tmp_path, "I25.1,  Aterosklerotik   kalp  \n").name("I25.1") == (
        "Aterosklerotik kalp"
    )


def test_a_file_is_read_once_per_process(tmp_path: Path) -> None:
    path = write(tmp_path, "I25.1,Kalp\n")
    first = load(path)
    path.write_text("I25.1,Başka\n", encoding="utf-8")
    assert load(path) is first


# --- bad files: one line naming the file and the line -------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("I21.9\n", "line 1: 1 columns, expected 2: code,name (quote a name that holds a comma)"),
        (f"I21.9,{MI_TR}\n", "line 1: 3 columns, expected 2"),
        ("code,name\nI21.9,Akut\nXYZ,Bir şey\n", "line 3: 'XYZ' is not a WHO ICD-10 category"),
        ("I21.9,Akut\nIX,Dolaşım sistemi\n", "line 2: 'IX' is not a WHO ICD-10 category"),
        ("I21.9,Akut\nI21.90,Akut\n", "line 2: 'I21.90' is not"),
        ("I21.9,Akut\nI21.1,Bir\nI219,Akut\n", "line 3: I21.9 is listed again (first on line 1)"),
        ("I21.9,   \n", "line 1: the name of I21.9 is blank"),
        ('I21.9,"Akut\nmiyokard"\n', "line 1: the name of I21.9 holds a control character"),
        ("I21.9,Akut\tmiyokard\n", "line 1: the name of I21.9 holds a control character"),
        (f"I21.9,{'a' * (MAX_NAME + 1)}\n", f"line 1: the name of I21.9 is longer than {MAX_NAME}"),
        ('I21.9,Akut\nI25.1,"Kalp" hastalığı\n', "line 2: not CSV"),
        ('I21.9,Akut\nI25.1,"Kalp\n', "line 2: not CSV"),
        ("", "lists no code"),
        ("code,name\n\n", "lists no code"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_file_the_line_and_the_problem(
    tmp_path: Path, text: str, problem: str
) -> None:
    assert problem in refusal(tmp_path, text)


def test_a_row_after_a_cell_spanning_lines_is_named_by_its_own_line(tmp_path: Path) -> None:
    assert ", line 3: 'BAD'" in refusal(tmp_path, '"I21.9\n",Akut\nBAD,x\n')


def test_the_other_bad_rows_are_counted(tmp_path: Path) -> None:
    message = refusal(tmp_path, "I21.9,Akut\nX1,a\nX2,b\nI25.1,Kalp\nX3,c\n")
    assert message.endswith(
        "line 2: 'X1' is not a WHO ICD-10 category or subcategory (a code a "
        "death form takes) (and 2 more bad rows)"
    )
    assert refusal(tmp_path, "X1,a\nX2,b\n").endswith("(and 1 more bad row)")


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    latin = "I21.9,Akut\nI25.1,Kalp hastalığı\n".encode("iso-8859-9")
    assert refusal(tmp_path, latin).endswith(", line 2: not UTF-8 text")


def test_a_missing_file_or_a_folder_cannot_be_read(tmp_path: Path) -> None:
    for path in (tmp_path / "missing.csv", tmp_path):
        with pytest.raises(IcdNamesError) as refused:
            load(path)
        assert str(refused.value).startswith(f"{path.absolute()}: cannot be read (")


# --- the setting -------------------------------------------------------------------------------


def test_the_setting_reads_the_file_and_the_root_gets_that_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, f"I25.1,{ATHEROSCLEROSIS_TR}\n")
    monkeypatch.setenv("SAGLIK_ICD_NAMES", str(path))
    settings = Settings.from_env()
    assert settings.icd_names == path
    assert load(settings.icd_names).name("I25.1") == ATHEROSCLEROSIS_TR


def test_an_unset_or_empty_setting_is_the_who_titles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGLIK_ICD_NAMES", "")
    assert Settings.from_env().icd_names is None


def test_a_bad_file_stops_the_settings_with_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "I21.9,Akut\nI21.9,Akut\n")
    monkeypatch.setenv("SAGLIK_ICD_NAMES", str(path))
    with pytest.raises(SettingsError) as refused:
        Settings.from_env()
    message = str(refused.value)
    assert message.startswith("invalid setting: SAGLIK_ICD_NAMES: ")
    assert message.endswith(f"{path}, line 2: I21.9 is listed again (first on line 1)")
    with pytest.raises(ValidationError):
        Settings(icd_names=path)


# --- the completion shows and searches the same names ------------------------------------------


def test_the_completion_offers_and_titles_codes_by_the_files_names(tmp_path: Path) -> None:
    lookup = IcdLookup(
        names_of(tmp_path, f'I21.9,"{MI_TR}"\nI64,"{STROKE_TR}"\nI25.1,{ATHEROSCLEROSIS_TR}\n')
    )
    assert lookup.title("I21.9") == MI_TR
    assert lookup.title("I21") == "Acute myocardial infarction"
    by_code = {e.code: e.title for e in lookup.complete("I21")}
    assert by_code["I21.9"] == MI_TR
    assert by_code["I21.0"] == "Acute transmural myocardial infarction of anterior wall"
    assert [e.code for e in lookup.complete("miyokard enfarktüsü")] == ["I21.9"]
    assert [e.code for e in lookup.complete("AKUT MİYOKARD")] == ["I21.9"]


@pytest.mark.parametrize("typed", ["inme", "İnme", "INME", "ınme", "İNME"])
def test_a_turkish_name_is_found_whichever_i_is_typed(tmp_path: Path, typed: str) -> None:
    lookup = IcdLookup(names_of(tmp_path, f'I64,"{STROKE_TR}"\n'))
    assert [e.code for e in lookup.complete(typed)] == ["I64"]
