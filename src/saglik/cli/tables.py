"""Tables for people: a value is never cut short (a cut-off username, method or network would
mislead), so a terminal too narrow folds it onto more lines, and a pipe gets one line per row
however long, so grep and friends see whole values."""

from __future__ import annotations

from rich.console import Console
from rich.measure import Measurement
from rich.table import Column, Table

from saglik.cli.context import console


def whole_table(*headers: str, title: str | None = None) -> Table:
    return Table(*(Column(h, overflow="fold") for h in headers), title=title)


def print_whole(table: Table) -> None:
    if console.is_terminal:
        console.print(table)
        return
    natural = Measurement.get(console, console.options.update_width(10_000), table)
    Console(width=natural.maximum).print(table)
