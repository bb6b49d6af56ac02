"""``saglik demo generate`` and ``saglik serve --demo``: the population reaches the store, a rerun
adds nothing, the output shows counts and never a person, and a demo server answers a live query
for a demo code and stops cleanly."""

from __future__ import annotations

import re
import signal
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select

from saglik.domain.turkish import mask_identity_number, mask_name
from saglik.store import hes_repo
from saglik.store.schema import death_forms, hes_codes, persons
from tests.cli.conftest import Invoke, Store, assert_error, run_saglik
from tests.cli.test_serve import _json_lines, _wait_for_stdout, serve  # noqa: F401 - fixture
from tests.conftest import DISTRICTS_CSV

HES_LIVE = "/services/g2g/saglik/hes"


def _count(db: Engine, table: object, env: str = "live") -> int:
    with db.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(table).where(table.c.env == env)  # type: ignore[attr-defined]
            ).scalar_one()
        )


def _people(db: Engine, env: str = "live") -> list[tuple[str, str, str]]:
    with db.connect() as conn:
        return [
            (row[0], row[1], row[2])
            for row in conn.execute(
                select(persons.c.identity_number, persons.c.first_name, persons.c.last_name).where(
                    persons.c.env == env
                )
            )
        ]


def test_generate_writes_the_population_and_a_rerun_adds_nothing(cli: Invoke, db: Engine) -> None:
    assert cli("refdata", "import", str(DISTRICTS_CSV)).exit_code == 0
    args = ("demo", "generate", "--persons", "600", "--seed", "4", "--anchor", "2026-06-15")
    first = cli(*args)
    assert first.exit_code == 0, first.output
    assert _count(db, persons) == 600
    assert _count(db, hes_codes) == 600
    deaths = _count(db, death_forms)
    assert deaths > 0
    out = first.stdout
    assert re.search(r"persons\s+│\s+600\b", out), out
    assert re.search(rf"deaths \(death forms\)\s+│\s+{deaths}\b", out), out
    assert "forensic" in out
    assert "maternal" in out
    assert "anchor 2026-06-15" in out
    assert "600/600" in out  # the progress bar's last state

    again = cli(*args)
    assert again.exit_code == 0, again.output
    assert (_count(db, persons), _count(db, death_forms)) == (600, deaths)

    shown = first.output + again.output
    for number, first_name, last_name in _people(db):
        assert number not in shown
        assert f"{first_name} {last_name}" not in shown


def test_generate_into_the_test_environment(cli: Invoke, db: Engine) -> None:
    result = cli("demo", "generate", "--persons", "50", "--env", "test", "--years", "2")
    assert result.exit_code == 0, result.output
    assert _count(db, persons, "test") == 50
    assert _count(db, persons, "live") == 0


def test_generate_refuses_an_environment_with_real_persons_without_force(
    cli: Invoke, db: Engine
) -> None:
    assert cli("refdata", "import", str(DISTRICTS_CSV)).exit_code == 0  # migrates the store
    with db.begin() as conn:
        hes_repo.upsert_person(
            conn, env="live", identity_number="10000000146", first_name="GERÇEK", last_name="KİŞİ",
            now=datetime(2026, 6, 15, tzinfo=UTC),
        )  # fmt: skip
    args = ("demo", "generate", "--persons", "20", "--anchor", "2026-06-15")
    assert_error(cli(*args), "the live environment already holds persons", "--force")
    assert _count(db, persons) == 1

    forced = cli(*args, "--force")
    assert forced.exit_code == 0, forced.output
    assert _count(db, persons) == 21
    again = cli(*args)  # an earlier demo run wrote into live: no --force needed
    assert again.exit_code == 0, again.output
    assert _count(db, persons) == 21


def test_generate_refuses_bad_options(cli: Invoke) -> None:
    for bad in (
        ("--env", "prod"),
        ("--anchor", "15.06.2026"),
        ("--persons", "-1"),
        ("--years", "0"),
    ):
        result = cli("demo", "generate", *bad)
        assert result.exit_code == 2, (bad, result.output)
        assert "Traceback" not in result.output


def test_help_explains_determinism(cli: Invoke) -> None:
    text = " ".join(cli("demo", "generate", "--help").stdout.split())
    for fragment in (
        "same seed and anchor",
        "--anchor",
        "T.C. citizens",
        "ICD-10",
        "forensic",
        "--force",
        "no earlier demo run wrote",
    ):
        assert fragment in text, fragment
    serve_help = " ".join(cli("serve", "--help").stdout.split())
    assert "--demo" in serve_help
    assert "--demo-persons" in serve_help
    assert "synthetic" in serve_help


def test_serve_demo_fills_an_empty_live_environment_and_answers_for_it(
    serve,  # noqa: F811 - the fixture imported above
    store_file: Store,
    tmp_path: Path,
) -> None:
    def saglik(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        done = run_saglik(args, env_url=store_file.url, cwd=tmp_path, input=stdin)
        assert done.returncode == 0, done.stderr
        return done

    saglik("refdata", "import", str(DISTRICTS_CSV))
    saglik("institution", "add", "Kurum")
    secret = "a-live-operator-secret"
    saglik(
        "user", "add", "kurum-live", "--institution", "Kurum", "--env", "live",
        "--method", "check-employee-hes-code", "--password-stdin", stdin=secret + "\n",
    )  # fmt: skip

    served = serve("--demo", "--demo-persons", "400")
    _wait_for_stdout(served, "listening on")
    summary = next(line for line in served.out.splitlines() if line.startswith("demo population"))
    assert "400 persons" in summary
    assert "400 HES codes" in summary

    engine = store_file.engine()
    try:
        with engine.connect() as conn:
            code, number, first_name, last_name = conn.execute(
                select(
                    hes_codes.c.code,
                    persons.c.identity_number,
                    persons.c.first_name,
                    persons.c.last_name,
                )
                .join(persons, persons.c.id == hes_codes.c.person_id)
                .where(
                    hes_codes.c.env == "live",
                    hes_codes.c.cancelled_at.is_(None),
                    hes_codes.c.expires_at > func.current_timestamp(),
                )
                .order_by(hes_codes.c.id)
                .limit(1)
            ).one()
        everyone = _people(engine)
    finally:
        engine.dispose()
    assert len(everyone) == 400

    with served.client(auth=("kurum-live", secret)) as client:
        reply = client.post(f"{HES_LIVE}/check-employee-hes-code", json={"hes_code": code})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["masked_firstname"] == mask_name(first_name)
        assert body["masked_lastname"] == mask_name(last_name)
        assert body["masked_identity_number"] == mask_identity_number(number)
    assert served.stop(signal.SIGTERM) == 0
    assert "shut down cleanly" in served.err
    assert any(e["msg"] == summary for e in _json_lines(served.err))
    shown = served.out + served.err
    assert code not in shown
    for person_number, person_first, person_last in everyone:
        assert person_number not in shown
        assert f"{person_first} {person_last}" not in shown

    # a live environment that holds persons is left as it is
    second = serve("--demo", "--demo-persons", "50")
    _wait_for_stdout(second, "listening on")
    assert "already holds persons" in second.out
    assert second.stop() == 0
    engine = store_file.engine()
    try:
        assert len(_people(engine)) == 400
    finally:
        engine.dispose()


def test_serve_without_demo_generates_nothing(serve, store_file: Store) -> None:  # noqa: F811
    served = serve()
    _wait_for_stdout(served, "listening on")
    assert "demo population" not in served.out
    assert served.stop() == 0
    engine = store_file.engine()
    try:
        assert _people(engine) == []
    finally:
        engine.dispose()
