"""``saglik demo generate`` and ``saglik serve --demo``: the population reaches the store, a rerun
adds nothing, the output shows counts and never a person, and a demo server answers a live query
for a demo code and stops cleanly."""

from __future__ import annotations

import json
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
    assert cli("refdata", "import").exit_code == 0
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
    assert cli("refdata", "import").exit_code == 0  # migrates the store
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

    saglik("refdata", "import")
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
    assert (served.out + served.err).count(summary) == 1, "the summary is printed once"
    assert "(demo) user created" not in served.out, "the live environment had a user"
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


OBS_LIVE = "/services/g2g/saglik/OBS"


def test_serve_demo_gives_an_empty_store_a_live_user_and_sample_lists_what_answers(
    serve,  # noqa: F811 - the fixture imported above
    store_file: Store,
    tmp_path: Path,
) -> None:
    served = serve("--demo", "--demo-persons", "3000")
    _wait_for_stdout(served, "things to query")
    out = served.out
    assert re.findall(r"username: (\S+)", out) == ["sandbox", "demo"]
    passwords = re.findall(r"^\s*password: (\S+)\s*$", out, re.MULTILINE)
    assert len(passwords) == 2
    assert all((out + served.err).count(password) == 1 for password in passwords)
    live = ("demo", passwords[1])

    listed = run_saglik(["demo", "sample", "--json"], env_url=store_file.url, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    sample = json.loads(listed.stdout)
    answers = [code["answer"] for code in sample["codes"]]
    assert set(answers) == {"RISKLESS", "RISKY", "hescodehasbeenexpired", "hescodenotfound"}
    assert sample["deaths"], "3,000 persons over five years: about 90 deaths"
    with served.client(auth=live) as client:
        for code in sample["codes"]:
            reply = client.post(
                f"{HES_LIVE}/check-employee-hes-code", json={"hes_code": code["hes_code"]}
            )
            if code["answer"] in ("RISKLESS", "RISKY"):
                assert reply.status_code == 200, reply.text
                assert reply.json()["current_health_status"] == code["answer"]
            else:
                assert reply.status_code == 400, reply.text
                assert reply.json()["errorKey"] == code["answer"]
        for death in sample["deaths"]:
            by_tc = client.get(
                f"{OBS_LIVE}/GetOlumByTcKimlikNoBasic",
                params={
                    "TcKimlikNo": death["identity_number"],
                    "Adi": death["first_name"],
                    "Soyadi": death["last_name"],
                    "DogumTarihi": death["birth_date"],
                },
            ).json()
            assert by_tc["State"] == 1, by_tc
            assert by_tc["Result"]["FormNo"] == death["form_no"]
            feed = "GetAdliFormlarByDate" if death["forensic"] else "GetTumOlumlerByDate"
            day = client.get(
                f"{OBS_LIVE}/{feed}",
                params={"Tarih": death["registered_on"], "IlKodu": death["death_province"]},
            ).json()
            assert {"FormNo": death["form_no"], "ReferansNo": death["referans_no"]} in day["Result"]
        refused = client.post(
            "/services/g2g/test/saglik/hes/check-employee-hes-code", json={"hes_code": "A1S10001S1"}
        )
        assert refused.status_code == 403, "a live user, not a test one"
    assert served.stop() == 0

    again = serve("--demo", "--demo-persons", "3000")
    _wait_for_stdout(again, "listening on")
    assert "user created" not in again.out
    assert again.stop() == 0


def test_sample_prints_tables_and_needs_a_demo_run(cli: Invoke) -> None:
    assert_error(cli("demo", "sample"), "no demo population in live", "saglik serve --demo")
    assert_error(cli("demo", "sample", "--env", "test"), "no demo population in test")
    args = ("demo", "generate", "--persons", "1500", "--seed", "3", "--anchor", "2026-06-15")
    assert cli(*args).exit_code == 0
    result = cli("demo", "sample", "--count", "2")
    assert result.exit_code == 0, result.output
    headings = ("answer", "hes_code", "FormNo", "ReferansNo", "TcKimlikNo", "DogumTarihi", "Tarih")
    for heading in headings:
        assert heading in result.stdout
    assert len(re.findall(r"│ RISKLESS +│ [A-Z0-9]{10} │", result.stdout)) == 2
