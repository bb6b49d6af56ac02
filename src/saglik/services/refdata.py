"""Reference data: the districts (the 81 provinces are built in).

The 973 districts ship inside the package (``saglik/data/districts.csv``, MIT, see
``saglik/data/ATTRIBUTION.md``), so a store has them from its first start; an operator can still
load another table over them.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from saglik.data.tables import DISTRICTS_FILE, data_text, provinces
from saglik.store import obs_repo

COLUMNS = ("district_code", "plate", "province", "name")

District = tuple[int, int, str]
"""(district code, province plate, name)."""


class RefdataError(ValueError):
    pass


def parse_districts(text: str, name: str) -> list[District]:
    """Rows of ``district_code,plate,province,name`` (any line endings, optional BOM), checked
    whole before anything is written: one bad line refuses the file."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    if reader.fieldnames is None or tuple(f.strip() for f in reader.fieldnames) != COLUMNS:
        raise RefdataError(f"{name}: the header must be {','.join(COLUMNS)}")
    rows: list[District] = []
    seen: set[int] = set()
    known = provinces()
    for line, row in enumerate(reader, start=2):
        try:
            code, plate = int(row["district_code"]), int(row["plate"])
            district = (row["name"] or "").strip()
        except (TypeError, ValueError):
            raise RefdataError(f"{name}:{line}: district_code and plate must be numbers") from None
        if plate not in known:
            raise RefdataError(f"{name}:{line}: plate {plate} is not one of the 81 provinces")
        if not district:
            raise RefdataError(f"{name}:{line}: the name is empty")
        if code in seen:
            raise RefdataError(f"{name}:{line}: district_code {code} appears twice")
        seen.add(code)
        rows.append((code, plate, district))
    if not rows:
        raise RefdataError(f"{name}: no districts")
    return rows


def read_districts(path: Path | None = None) -> list[District]:
    """The districts of ``path``, or the shipped table when no path is given."""
    if path is None:
        return parse_districts(data_text(DISTRICTS_FILE), DISTRICTS_FILE)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RefdataError(f"{path.name}: the file is not UTF-8 text") from None
    return parse_districts(text, path.name)


def import_districts(engine: Engine, path: Path | None = None) -> int:
    """Load or rename districts from ``path`` (the shipped table without one)."""
    rows = read_districts(path)
    with engine.begin() as conn:
        return obs_repo.upsert_districts(conn, rows)


def ensure_districts(engine: Engine) -> int:
    """Fill an empty district table with the shipped one, so OlumIlceAdi and IkametIlceAdi have
    names without an operator step; a table already loaded (by this or by an operator) is left
    as it is. Returns how many districts were loaded."""
    with engine.connect() as conn:
        if obs_repo.has_districts(conn):
            return 0
    try:
        return import_districts(engine)
    except IntegrityError:  # another process filled it first: the same rows are in place
        return 0
