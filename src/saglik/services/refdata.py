"""Reference data the operator loads: districts (provinces ship with the package)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy import Engine

from saglik.data.tables import provinces
from saglik.store import obs_repo

COLUMNS = ("district_code", "plate", "province", "name")


class RefdataError(ValueError):
    pass


def read_districts(path: Path) -> list[tuple[int, int, str]]:
    """Rows of ``district_code,plate,province,name`` (any line endings, optional BOM), checked
    whole before anything is written: one bad line refuses the file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise RefdataError(f"{path.name}: the file is not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames is None or tuple(f.strip() for f in reader.fieldnames) != COLUMNS:
        raise RefdataError(f"{path.name}: the header must be {','.join(COLUMNS)}")
    rows: list[tuple[int, int, str]] = []
    seen: set[int] = set()
    known = provinces()
    for line, row in enumerate(reader, start=2):
        try:
            code, plate = int(row["district_code"]), int(row["plate"])
            name = (row["name"] or "").strip()
        except (TypeError, ValueError):
            raise RefdataError(
                f"{path.name}:{line}: district_code and plate must be numbers"
            ) from None
        if plate not in known:
            raise RefdataError(f"{path.name}:{line}: plate {plate} is not one of the 81 provinces")
        if not name:
            raise RefdataError(f"{path.name}:{line}: the name is empty")
        if code in seen:
            raise RefdataError(f"{path.name}:{line}: district_code {code} appears twice")
        seen.add(code)
        rows.append((code, plate, name))
    if not rows:
        raise RefdataError(f"{path.name}: no districts")
    return rows


def import_districts(engine: Engine, path: Path) -> int:
    rows = read_districts(path)
    with engine.begin() as conn:
        return obs_repo.upsert_districts(conn, rows)
