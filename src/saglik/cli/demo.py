"""``saglik demo``: a synthetic population to try the service on, or to load-test it."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from saglik.cli.context import (
    change_log,
    clear_errors,
    clock,
    console,
    fail,
    known_env,
    migrated_engine,
)
from saglik.cli.tables import print_whole, whole_table
from saglik.services import demo, demo_sample
from saglik.services.demo import DemoError, DemoSummary

app = typer.Typer(
    help="A synthetic, reproducible population (persons, HES codes, health events, death forms).",
    no_args_is_help=True,
)


class RateColumn(ProgressColumn):
    """Persons a second, over Rich's recent-speed window (the batches of the last 30 s)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(
            "–" if speed is None else f"{speed:,.0f} persons/s", style="progress.data.speed"
        )


def _anchor(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter("must be a date, YYYY-MM-DD") from None


def _summary_table(summary: DemoSummary) -> Table:
    rate = summary.persons / summary.seconds if summary.seconds > 0 else 0.0
    table = Table("", "count", title=f"demo population in {summary.env}", title_justify="left")
    table.add_row("persons", f"{summary.persons:,}")
    table.add_row("HES codes", f"{summary.codes:,}")
    table.add_row("health events", f"{summary.events:,}")
    table.add_row("deaths (death forms)", f"{summary.deaths:,}")
    table.add_row("  forensic (OlumSekli 3–4)", f"{summary.forensic:,}")
    table.add_row("  accidents, suicide, homicide, disasters (5–10)", f"{summary.external:,}")
    table.add_row("  maternal (KadinOlumuNedeni 2–4)", f"{summary.maternal:,}")
    if summary.refused:
        table.add_row("rows the store refused", f"{summary.refused:,}")
    table.add_row("seconds", f"{summary.seconds:,.1f}")
    table.add_row("persons/s", f"{rate:,.0f}")
    return table


GENERATE_HELP = (
    "Write a synthetic population into the store: T.C. citizens with Turkish names, ages after "
    "TÜİK's 2023 pyramid, residence weighted by province population (and one of its "
    "districts); one HES code each (most valid for a year, some "
    "expired, some without expiry, the dead's cancelled); consent choices, vaccinations, "
    "infections, PCR results and isolation/quarantine periods; and the deaths of the last YEARS "
    "years at Türkiye's rate (~6.2 per 1,000 a year) as ÖBS death forms with ICD-10 cause chains, "
    "forensic and maternal cases among them."
    "\n\n"
    "Deterministic: the same seed and anchor give the same data, so running the command again "
    "(the same UTC day, or with the same --anchor) adds nothing. With the same seed, anchor and "
    "--years, person i is the same whatever --persons is: a larger run extends a smaller one."
    "\n\n"
    "The data is invented: a generated identity number or name that matches a real person's does "
    "so by chance. Nothing personal is printed, only counts."
    "\n\n"
    "An environment that already holds persons no earlier demo run wrote (the change log records "
    "every run) is refused, since a generated identity number that matches a real person's would "
    "overwrite them; --force writes into it anyway. The test environment's fixture persons do not "
    "count: they are never overwritten."
)


@app.command(help=GENERATE_HELP)
def generate(
    persons: Annotated[int, typer.Option(min=0, help="How many persons.")] = 10_000,
    years: Annotated[
        int, typer.Option(min=1, max=100, help="Deaths fall in this many years before the anchor.")
    ] = 5,
    seed: Annotated[int, typer.Option(help="Same seed, same anchor: the same population.")] = 1,
    env: Annotated[
        str, typer.Option("--env", callback=known_env, help="Environment: live or test.")
    ] = "live",
    anchor: Annotated[
        str | None,
        typer.Option(
            metavar="YYYY-MM-DD",
            help="The day every instant is counted back from (00:00 UTC); default: today (UTC).",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Write into an environment that holds persons no earlier demo run wrote "
            "(their data may be overwritten).",
        ),
    ] = False,
) -> None:
    """Typer shows GENERATE_HELP; the command only wires the service to a progress bar."""
    day = _anchor(anchor)
    engine = migrated_engine()
    if not force:
        with clear_errors():
            try:
                demo.check_target(engine, env)  # before the progress bar: one line, nothing else
            except DemoError as exc:
                fail(str(exc))
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with clear_errors(), Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("persons", total=persons)
        try:
            summary = demo.generate(
                engine,
                clock(),
                persons=persons,
                years=years,
                seed=seed,
                env=env,
                anchor=day,
                progress=lambda done, _total: bar.update(task, completed=done),
                force=force,
                changes=change_log(),
            )
        except DemoError as exc:
            fail(str(exc))
    console.print(_summary_table(summary))
    console.print(
        f"seed {summary.seed}, anchor {summary.anchor:%Y-%m-%d} 00:00 UTC, deaths over "
        f"{summary.years} years: the same command with --anchor {summary.anchor:%Y-%m-%d} "
        "writes the same data again",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def sample(
    env: Annotated[
        str, typer.Option("--env", callback=known_env, help="Environment: live or test.")
    ] = "live",
    count: Annotated[int, typer.Option(min=1, max=50, help="How many of each kind.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (snake_case keys).")] = False,
) -> None:
    """Print things to query in the demo population: HES codes by what they answer now
    (RISKLESS, RISKY, expired, not found) and death forms with what their lookups take (the
    columns are the ÖBS parameter names: FormNo and ReferansNo; TcKimlikNo, Adi, Soyadi and
    DogumTarihi; Tarih and IlKodu for the day feeds; adli marks the forensic forms that
    GetAdliFormlarByDate lists). Only the last demo run's invented persons are listed."""
    with clear_errors():
        try:
            found = demo_sample.sample(migrated_engine(), clock(), env=env, count=count)
        except DemoError as exc:
            fail(str(exc))
    if as_json:
        print(json.dumps(asdict(found), ensure_ascii=False, indent=2, default=str))
        return
    codes = whole_table("answer", "hes_code", title=f"HES codes ({env}, seed {found.seed})")
    for code in found.codes:
        codes.add_row(code.answer, code.hes_code)
    print_whole(codes)
    headers = ("FormNo", "ReferansNo", "TcKimlikNo", "Adi", "Soyadi", "DogumTarihi", "Tarih")
    deaths = whole_table(*headers, "IlKodu", "adli", title=f"death forms ({env})")
    for death in found.deaths:
        deaths.add_row(
            death.form_no,
            death.referans_no,
            death.identity_number or "",
            death.first_name,
            death.last_name,
            death.birth_date.isoformat() if death.birth_date else "",
            death.registered_on.isoformat(),
            str(death.death_province),
            "yes" if death.forensic else "",
        )
    print_whole(deaths)
