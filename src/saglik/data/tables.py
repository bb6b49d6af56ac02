"""Loaders for the shipped reference tables (read once; they only change with a release)."""

from __future__ import annotations

import csv
import json
from functools import cache
from importlib import resources

DISTRICTS_FILE = "districts.csv"
"""The 973 districts (district_code,plate,province,name), from turkiye-api (MIT; ATTRIBUTION.md)."""


def data_text(name: str) -> str:
    """A shipped data file's text."""
    return resources.files("saglik.data").joinpath(name).read_text("utf-8")


@cache
def provinces() -> dict[int, str]:
    """Plate code → province name, the 81 provinces."""
    return {
        int(row["plate"]): row["name"]
        for row in csv.DictReader(data_text("provinces.csv").splitlines())
    }


@cache
def obs_tables() -> dict[str, dict[int, str]]:
    """ÖBS code tables: table name → {wire integer: Turkish name}."""
    raw = json.loads(data_text("obs_tables.json"))
    return {
        name: {int(k): v for k, v in table.items()}
        for name, table in raw.items()
        if not name.startswith("_")
    }
