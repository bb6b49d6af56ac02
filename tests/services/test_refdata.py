"""District reference data (contract §6): the shipped table loads, a new store gets it without
a step of its own, another table can be loaded over it, and a bad file is refused whole, before
anything is written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from saglik.services.bootstrap import ensure_store
from saglik.services.refdata import (
    RefdataError,
    ensure_districts,
    import_districts,
    read_districts,
)
from saglik.store.schema import districts
from tests.store.backends import backend_of, blank_engine

HEADER = "district_code,plate,province,name"


@pytest.fixture(scope="module")
def db(store: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with blank_engine(backend_of(store), tmp_path_factory.mktemp("refdata"), migrated=True) as e:
        yield e


def rows(db: Engine) -> dict[int, tuple[int, str]]:
    with db.connect() as conn:
        return {c: (p, n) for c, p, n in conn.execute(select(districts))}


def write(tmp_path: Path, text: str, name: str = "districts.csv", *, raw: bytes | None = None):
    path = tmp_path / name
    path.write_bytes(raw if raw is not None else text.encode())
    return path


def test_the_shipped_table_loads_973_districts(db: Engine) -> None:
    assert import_districts(db) == 973
    loaded = rows(db)
    assert len(loaded) == 973
    assert loaded[1231] == (6, "Çankaya")
    assert {plate for plate, _ in loaded.values()} == set(range(1, 82))
    # Safe to run again.
    assert import_districts(db) == 973
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(districts)).scalar_one() == 973


def test_crlf_line_endings_and_a_bom_are_accepted(db: Engine, tmp_path: Path) -> None:
    text = f"{HEADER}\r\n90001,06,Ankara,Birinci Test\r\n90002,34,İstanbul,İkinci Test\r\n"
    path = write(tmp_path, "", raw=b"\xef\xbb\xbf" + text.encode())
    assert import_districts(db, path) == 2
    loaded = rows(db)
    assert loaded[90001] == (6, "Birinci Test")
    assert loaded[90002] == (34, "İkinci Test")


def test_a_rename_is_applied(db: Engine, tmp_path: Path) -> None:
    import_districts(db, write(tmp_path, f"{HEADER}\n90010,6,Ankara,Eski\n"))
    import_districts(db, write(tmp_path, f"{HEADER}\n90010,7,Antalya,  Yeni  \n"))
    assert rows(db)[90010] == (7, "Yeni")


BAD_FILES = {
    "wrong header": ("code,plate,province,name\n90101,6,Ankara,X\n", "the header must be"),
    "reordered header": (
        "plate,district_code,province,name\n6,90101,Ankara,X\n",
        "the header must be",
    ),
    "empty file": ("", "the header must be"),
    "header only": (f"{HEADER}\n", "no districts"),
    "non-numeric code": (
        f"{HEADER}\n90101,6,Ankara,X\nabc,6,Ankara,Y\n",
        ":3: district_code and plate must be numbers",
    ),
    "non-numeric plate": (
        f"{HEADER}\n90101,6,Ankara,X\n90102,six,Ankara,Y\n",
        ":3: district_code and plate must be numbers",
    ),
    "unknown plate": (
        f"{HEADER}\n90101,6,Ankara,X\n90102,82,Yok,Y\n",
        ":3: plate 82 is not one of the 81 provinces",
    ),
    "plate zero": (f"{HEADER}\n90101,0,Yok,X\n", ":2: plate 0 is not one of the 81 provinces"),
    "duplicate code": (
        f"{HEADER}\n90101,6,Ankara,X\n90101,6,Ankara,Y\n",
        ":3: district_code 90101 appears twice",
    ),
    "empty name": (f"{HEADER}\n90101,6,Ankara,X\n90102,6,Ankara,  \n", ":3: the name is empty"),
    "short row": (f"{HEADER}\n90101,6,Ankara,X\n90102,6\n", ":3:"),
    "row without name column": (f"{HEADER}\n90101,6,Ankara\n", ":2:"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_is_refused_whole_before_anything_is_written(
    db: Engine, tmp_path: Path, case: str
) -> None:
    text, message = BAD_FILES[case]
    path = write(tmp_path, text, "bad.csv")
    before = rows(db)
    with pytest.raises(RefdataError) as caught:
        import_districts(db, path)
    assert message in str(caught.value)
    assert str(caught.value).startswith("bad.csv")
    assert rows(db) == before
    assert 90101 not in rows(db)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "", raw=f"{HEADER}\n90101,6,Ankara,Çankaya\n".encode("cp1254"))
    with pytest.raises(RefdataError, match="not UTF-8"):
        read_districts(path)


def test_the_shipped_table_is_every_district_of_the_81_provinces() -> None:
    shipped = read_districts()
    assert len(shipped) == 973
    assert len({code for code, _, _ in shipped}) == 973
    assert {plate for _, plate, _ in shipped} == set(range(1, 82))
    assert (1231, 6, "Çankaya") in shipped
    assert (1421, 34, "Kadıköy") in shipped


@pytest.fixture
def fresh(store: Engine, tmp_path: Path) -> Iterator[Engine]:
    with blank_engine(backend_of(store), tmp_path, migrated=False) as engine:
        yield engine


def test_a_store_prepared_for_use_has_the_shipped_districts(fresh: Engine) -> None:
    ensure_store(fresh)
    assert len(rows(fresh)) == 973
    assert rows(fresh)[1231] == (6, "Çankaya")


def test_ensure_districts_fills_only_an_empty_table(fresh: Engine, tmp_path: Path) -> None:
    ensure_store(fresh)
    assert ensure_districts(fresh) == 0
    other = write(tmp_path, f"{HEADER}\n1231,6,Ankara,Çankaya (yeni ad)\n90020,6,Ankara,Yeni\n")
    import_districts(fresh, other)
    assert ensure_districts(fresh) == 0, "an operator's table is left as it is"
    assert rows(fresh)[1231] == (6, "Çankaya (yeni ad)")
    assert import_districts(fresh) == 973, "the shipped table puts the names back"
    assert rows(fresh)[1231] == (6, "Çankaya")
    assert rows(fresh)[90020] == (6, "Yeni"), "a district of another table is kept"
