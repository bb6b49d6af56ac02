"""The synthetic demo population (domain/population.py): reproducible, valid, and shaped like
Türkiye — ages, sexes, provinces, deaths, manners of death — within plausible bands.

The bands are wide enough for sampling noise on 20,000 persons (about 600 deaths) and narrow
enough that a broken model (no deaths, everyone forensic, a flat age structure) fails.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from statistics import median
from typing import Any

import pytest

from saglik.data.tables import obs_tables, provinces
from saglik.domain import population as pop
from saglik.domain.hes import NO_EXPIRY
from saglik.domain.hescode import is_generated_shape
from saglik.domain.obs import FEMALE, FORENSIC_MANNERS, ISTANBUL
from saglik.domain.population import (
    EXTERNAL_MANNERS,
    PREGNANCY_RELATED,
    DemoPerson,
    DemoTables,
    Permutation,
    anchor_for,
    demo_tables,
    generate_population,
    maternal_status,
)
from saglik.domain.records import PersonRow
from saglik.domain.tckn import is_valid_tckn
from saglik.domain.turkish import normalize_name
from saglik.services.obs import CauseInput
from saglik.services.refdata import read_districts

ANCHOR = datetime(2026, 6, 15, tzinfo=UTC)
YEARS = 5
COUNT = 20_000
SEED = 11


def _data(name: str) -> Any:
    return json.loads(resources.files("saglik.data").joinpath(name).read_text("utf-8"))


def _tables() -> DemoTables:
    return demo_tables(_data("demo_names.json"), _data("demo_population.json"), provinces())


def _districts() -> dict[int, list[int]]:
    by_plate: dict[int, list[int]] = {}
    for code, plate, _name in read_districts():
        by_plate.setdefault(plate, []).append(code)
    return by_plate


DISTRICT_PLATE = {code: plate for plate, codes in _districts().items() for code in codes}


@pytest.fixture(scope="module")
def tables() -> DemoTables:
    return _tables()


def _generate(tables: DemoTables, **overrides: Any) -> list[DemoPerson]:
    args: dict[str, Any] = {
        "seed": SEED,
        "count": COUNT,
        "years": YEARS,
        "anchor": ANCHOR,
        "districts": _districts(),
    }
    args.update(overrides)
    return list(generate_population(tables, **args))


@pytest.fixture(scope="module")
def people(tables: DemoTables) -> list[DemoPerson]:
    return _generate(tables)


@pytest.fixture(scope="module")
def living(people: list[DemoPerson]) -> list[DemoPerson]:
    return [p for p in people if p.death is None]


@pytest.fixture(scope="module")
def dead(people: list[DemoPerson]) -> list[DemoPerson]:
    return [p for p in people if p.death is not None]


def _age(person: DemoPerson, at: date) -> float:
    return (at - person.birth_date).days / 365.25


# --- reproducibility ---------------------------------------------------------------------------


def test_the_same_seed_and_anchor_give_the_same_population(
    tables: DemoTables, people: list[DemoPerson]
) -> None:
    again = _generate(_tables(), count=3_000)
    assert again == people[:3_000]


def test_person_i_does_not_depend_on_the_count(
    tables: DemoTables, people: list[DemoPerson]
) -> None:
    assert _generate(tables, count=700) == people[:700]


def test_another_seed_gives_another_population_with_other_numbers(
    tables: DemoTables, people: list[DemoPerson]
) -> None:
    """Different seeds draw from disjoint blocks: populations stacked in one store never share an
    identity number, a code or a FormNo (seeds 90 apart share the block, as documented)."""
    other = _generate(tables, seed=SEED + 1)
    for key in (
        lambda p: p.person.identity_number,
        lambda p: p.code.code,
        lambda p: p.death.form_no if p.death else None,
    ):
        assert not ({key(p) for p in people} & {key(p) for p in other}) - {None}
    assert [p.person.first_name for p in other] != [p.person.first_name for p in people]
    same_block = _generate(tables, seed=SEED + pop.SEED_BLOCKS, count=5)
    assert [p.person.identity_number for p in same_block] == [
        p.person.identity_number for p in people[:5]
    ]


def test_another_anchor_moves_the_instants_not_the_identities(
    tables: DemoTables, people: list[DemoPerson]
) -> None:
    later = _generate(tables, count=200, anchor=ANCHOR + timedelta(days=1))
    assert [p.person for p in later] == [p.person for p in people[:200]]
    assert [p.code.code for p in later] == [p.code.code for p in people[:200]]
    assert [p.code.created_at for p in later] != [p.code.created_at for p in people[:200]]


def test_the_anchor_is_the_utc_date_at_midnight() -> None:
    assert anchor_for(datetime(2026, 6, 15, 23, 59, 59, tzinfo=UTC)) == ANCHOR
    # 01:30 in Istanbul on the 16th is still the 15th in UTC
    assert anchor_for(datetime(2026, 6, 16, 1, 30, tzinfo=ISTANBUL)) == ANCHOR


def test_the_generator_uses_its_own_random_stream(tables: DemoTables) -> None:
    random.seed(1)
    first = _generate(tables, count=50)
    random.seed(2)
    assert _generate(tables, count=50) == first


def test_a_naive_anchor_is_refused(tables: DemoTables) -> None:
    with pytest.raises(ValueError, match="aware"):
        _generate(tables, count=1, anchor=datetime(2026, 6, 15))


# --- identities --------------------------------------------------------------------------------


def test_identity_numbers_are_valid_and_unique(people: list[DemoPerson]) -> None:
    numbers = [p.person.identity_number for p in people]
    assert all(is_valid_tckn(n) for n in numbers)
    assert len(set(numbers)) == len(numbers)


def test_excluded_identity_numbers_are_never_issued(
    tables: DemoTables, people: list[DemoPerson]
) -> None:
    taken = frozenset(p.person.identity_number for p in people[:10])
    numbers = [
        p.person.identity_number
        for p in _generate(tables, count=30, exclude_identity_numbers=taken)
    ]
    assert not taken & set(numbers)
    assert len(set(numbers)) == 30


def test_names_are_nfc_turkish_upper_case(people: list[DemoPerson]) -> None:
    letters: Counter[str] = Counter()
    for p in people:
        for name in (p.person.first_name, p.person.last_name):
            assert unicodedata.is_normalized("NFC", name)
            assert name == normalize_name(name)
            assert re.fullmatch(r"[A-ZÇĞİÖŞÜ]+( [A-ZÇĞİÖŞÜ]+)*", name), name
            letters.update(name)
    # the Turkish letters are there (İ dotted, I dotless: the two most common mistakes)
    for letter in "İIŞĞÜÖÇ":
        assert letters[letter] > 100, letter


def test_given_names_follow_sex_and_some_have_two(
    tables: DemoTables, people: list[DemoPerson]
) -> None:
    male, female = set(tables.male_names.items), set(tables.female_names.items)
    for p in people:
        own = male if p.sex == pop.MALE else female
        assert all(word in own for word in p.person.first_name.split(" "))
    two = sum(" " in p.person.first_name for p in people) / len(people)
    assert 0.10 < two < 0.20


def test_names_have_a_frequency_curve(people: list[DemoPerson]) -> None:
    surnames = Counter(p.person.last_name for p in people)
    assert surnames.most_common(1)[0][0] == "YILMAZ"
    assert len(surnames) > 150


def test_the_name_lists_are_large_and_distinct() -> None:
    names = _data("demo_names.json")
    for key in ("male", "female", "surnames"):
        assert len(names[key]) >= 150
        assert len(set(names[key])) == len(names[key])
    assert not set(names["male"]) & set(names["female"])


# --- shape of the population -------------------------------------------------------------------


def test_sex_ratio(people: list[DemoPerson]) -> None:
    assert 0.48 < sum(p.sex == pop.MALE for p in people) / len(people) < 0.52


def test_age_structure_of_the_living_is_turkiye_s(living: list[DemoPerson]) -> None:
    ages = [_age(p, ANCHOR.date()) for p in living]
    children = sum(a < 15 for a in ages) / len(ages)
    elderly = sum(a >= 65 for a in ages) / len(ages)
    assert 0.20 < children < 0.24  # TÜİK 2023: 21.4 %
    assert 0.085 < elderly < 0.12  # TÜİK 2023: 10.2 %
    assert 31 < median(ages) < 37  # TÜİK 2023: 34.0
    assert max(ages) < 100


def test_residence_follows_province_populations(people: list[DemoPerson]) -> None:
    plates = Counter(p.residence.province for p in people)
    assert set(plates) <= set(range(1, 82))
    assert 0.16 < plates[34] / len(people) < 0.21  # İstanbul: 18.3 %
    assert 0.05 < plates[6] / len(people) < 0.085  # Ankara: 6.8 %
    assert plates[34] > plates[6] > plates[62]  # Tunceli, the smallest


def test_districts_belong_to_their_province(people: list[DemoPerson]) -> None:
    for p in people:
        assert p.residence.district is not None
        assert DISTRICT_PLATE[p.residence.district] == p.residence.province
        if p.death is not None and p.death.death_place.district is not None:
            place = p.death.death_place
            assert DISTRICT_PLATE[place.district] == place.province  # type: ignore[index]


def test_without_districts_no_district_is_given(tables: DemoTables) -> None:
    for p in _generate(tables, count=2_000, districts=None):
        assert p.residence.district is None
        if p.death is not None:
            assert p.death.death_place.district is None


# --- HES codes ---------------------------------------------------------------------------------


def test_codes_have_the_generated_shape_and_are_unique(people: list[DemoPerson]) -> None:
    codes = [p.code.code for p in people]
    assert all(is_generated_shape(c) for c in codes)
    assert len(set(codes)) == len(codes)
    assert all(p.code.identity_number == p.person.identity_number for p in people)


def test_code_states_of_the_living(living: list[DemoPerson]) -> None:
    states: Counter[str] = Counter()
    for p in living:
        code = p.code
        assert code.cancelled_at is None
        assert code.created_at < ANCHOR
        if code.expires_at == NO_EXPIRY:
            states["no expiry"] += 1
        elif code.expires_at > ANCHOR:
            assert code.expires_at - code.created_at == timedelta(days=365)
            states["active"] += 1
        else:
            states["expired"] += 1
    assert 0.75 < states["active"] / len(living) < 0.85
    assert 0.07 < states["expired"] / len(living) < 0.13
    assert 0.07 < states["no expiry"] / len(living) < 0.13


def test_the_dead_s_codes_were_cancelled_at_death(dead: list[DemoPerson]) -> None:
    for p in dead:
        assert p.death is not None
        assert p.code.cancelled_at == p.death.died_at
        assert p.code.created_at <= p.death.died_at


# --- health events -----------------------------------------------------------------------------


def _horizon(p: DemoPerson) -> datetime:
    return p.death.died_at if p.death is not None else ANCHOR


def test_events_fall_between_birth_and_death_or_the_anchor(people: list[DemoPerson]) -> None:
    for p in people:
        born = datetime.combine(p.birth_date, datetime.min.time(), tzinfo=UTC)
        for e in p.events:
            assert e.identity_number == p.person.identity_number
            assert born <= e.at < _horizon(p), e
            if e.kind == "risk":
                assert e.ended_at is not None
                assert e.ended_at > e.at
                if p.death is not None:
                    assert e.ended_at <= p.death.died_at


def test_vaccinations_are_numbered_doses_in_order(people: list[DemoPerson]) -> None:
    for p in people:
        doses = [e for e in p.events if e.kind == "vaccination"]
        assert [e.dose for e in doses] == list(range(1, len(doses) + 1))
        assert [e.at for e in doses] == sorted(e.at for e in doses)
        assert {e.vaccine for e in doses} <= {"CoronaVac", "BioNTech"}
        if doses:
            assert _age(p, ANCHOR.date()) >= 12


def test_vaccination_coverage_by_age(living: list[DemoPerson]) -> None:
    def share(low: float, high: float) -> float:
        group = [p for p in living if low <= _age(p, ANCHOR.date()) < high]
        return sum(sum(e.kind == "vaccination" for e in p.events) >= 2 for p in group) / len(group)

    assert share(0, 12) == 0
    assert 0.65 < share(18, 65) < 0.85
    assert share(65, 120) > share(18, 50)


def test_about_a_fifth_had_a_confirmed_infection_with_a_positive_pcr(
    living: list[DemoPerson],
) -> None:
    infected = 0
    for p in living:
        infections = [e.at for e in p.events if e.kind == "infection"]
        infected += bool(infections)
        positives = [e.at for e in p.events if e.kind == "pcr" and e.negative is False]
        for at in infections:
            assert any(timedelta(0) < at - s <= timedelta(hours=48) for s in positives)
            assert any(e.kind == "risk" and e.risk_kind == "case" and e.at == at for e in p.events)
    assert 0.17 < infected / len(living) < 0.23


def test_pcr_results_are_negatives_and_positives(people: list[DemoPerson]) -> None:
    results = Counter(e.negative for p in people for e in p.events if e.kind == "pcr")
    assert results[True] > 3 * results[False] > 0
    recent = sum(
        any(
            e.kind == "pcr" and e.negative and e.at > ANCHOR - timedelta(hours=72) for e in p.events
        )
        for p in people
    )
    assert 0.02 < recent / len(people) < 0.05


def test_a_small_share_is_under_isolation_or_quarantine_at_the_anchor(
    living: list[DemoPerson],
) -> None:
    open_at_anchor = Counter(
        e.risk_kind
        for p in living
        for e in p.events
        if e.kind == "risk" and e.ended_at is not None and e.at <= ANCHOR < e.ended_at
    )
    assert open_at_anchor["case"] > 0
    assert open_at_anchor["contact"] > 0
    assert 0.003 < sum(open_at_anchor.values()) / len(living) < 0.02


def test_consent_choices_are_mixed(people: list[DemoPerson]) -> None:
    for field in ("consent_vaccination", "consent_immunity", "consent_test"):
        share = sum(getattr(p.person, field) for p in people) / len(people)
        assert 0.4 < share < 0.7, field


# --- deaths ------------------------------------------------------------------------------------


def test_death_rate_is_turkiye_s(people: list[DemoPerson], dead: list[DemoPerson]) -> None:
    per_thousand_a_year = len(dead) / len(people) / YEARS * 1000
    assert 5.2 < per_thousand_a_year < 7.4  # TÜİK 2023: ~6.2 (525 k deaths, 85 M people)


def test_deaths_are_mostly_of_the_old(dead: list[DemoPerson]) -> None:
    ages = [_age(p, p.death.died_at.date()) for p in dead if p.death is not None]
    assert sum(a >= 65 for a in ages) / len(ages) > 0.6
    assert 62 < sum(ages) / len(ages) < 76


def test_a_death_record_is_the_person_s(dead: list[DemoPerson]) -> None:
    for p in dead:
        d = p.death
        assert d is not None
        assert (d.identity_number, d.first_name, d.last_name) == (
            p.person.identity_number,
            p.person.first_name,
            p.person.last_name,
        )
        assert (d.sex, d.birth_date, d.residence) == (p.sex, p.birth_date, p.residence)
        assert d.passport_no is None
        assert d.nationality == "TR"
        assert d.birth_date <= d.died_at.astimezone(ISTANBUL).date()
        assert ANCHOR - timedelta(days=365.25 * YEARS) <= d.died_at < ANCHOR
        assert d.died_at <= d.registered_at < ANCHOR
        assert d.registered_at - d.died_at <= timedelta(days=10)
        assert d.updated_at is None
        assert d.autopsy in (True, False)
        if d.injured_at is not None:
            assert d.injured_at <= d.died_at
        for name in (d.father_name, d.mother_name, d.birth_place):
            assert name is not None
            assert name == normalize_name(name)


def test_form_numbers_are_unique_and_shaped(dead: list[DemoPerson]) -> None:
    forms = [(p.death.form_no, p.death.referans_no) for p in dead if p.death is not None]
    assert len({f for f, _ in forms}) == len(forms)
    for form_no, referans_no in forms:
        assert re.fullmatch(r"[1-8]\d{9}", form_no)  # never the fixtures' 9000000xxx
        assert re.fullmatch(f"[{pop.REF_ALPHABET}]{{8}}", referans_no)


def test_every_code_of_every_table_is_a_valid_icd_10_code(tables: DemoTables) -> None:
    for code in tables.icd_codes():
        assert CauseInput(kind=1, icd_code=code).icd_code == code  # valid and dotted


def test_cause_chains_are_valid(dead: list[DemoPerson]) -> None:
    known = obs_tables()
    for p in dead:
        assert p.death is not None
        causes = p.death.causes
        part_one = [c.kind for c in causes if c.kind != 5]
        assert part_one in ([1], [1, 4], [1, 2, 4], [1, 2, 3, 4])
        assert [c.kind for c in causes] == part_one + [5] * (len(causes) - len(part_one))
        for c in causes:
            assert CauseInput(kind=c.kind, icd_code=c.icd_code, interval=c.interval).icd_code == (
                c.icd_code
            )
            assert c.interval is None or re.fullmatch(r"\d+ (dakika|saat|gün|ay|yıl)", c.interval)
        assert p.death.place_of_death_type in known["OlumYeri"]
        assert p.death.manner in known["OlumSekli"]


def _external(code: str) -> bool:
    return "V01" <= code[:3] <= "Y98"


def test_accidents_suicides_homicides_carry_external_cause_codes(
    dead: list[DemoPerson],
) -> None:
    external = [p.death for p in dead if p.death is not None and p.death.manner in EXTERNAL_MANNERS]
    assert external
    for d in external:
        underlying = [c for c in d.causes if c.kind != 5][-1]
        assert _external(underlying.icd_code), d.causes
        assert d.injured_at is not None
    diseases = [p.death for p in dead if p.death is not None and p.death.manner in (1, 2)]
    assert not any(_external(c.icd_code) for d in diseases for c in d.causes)


def test_forensic_and_external_shares(dead: list[DemoPerson]) -> None:
    manners = Counter(p.death.manner for p in dead if p.death is not None)
    total = sum(manners.values())
    forensic = sum(manners[m] for m in FORENSIC_MANNERS) / total
    external = sum(manners[m] for m in EXTERNAL_MANNERS) / total
    assert 0.01 < forensic < 0.07
    assert 0.025 < external < 0.09  # TÜİK 2023: ~4.5 % injuries and poisonings
    assert manners[1] / total > 0.7


def test_forensic_cases_mostly_had_an_autopsy(dead: list[DemoPerson]) -> None:
    forensic = [p.death for p in dead if p.death is not None and p.death.manner in FORENSIC_MANNERS]
    assert forensic
    assert sum(bool(d.autopsy) for d in forensic) / len(forensic) > 0.6


def test_maternal_status_only_for_women(dead: list[DemoPerson]) -> None:
    for p in dead:
        d = p.death
        assert d is not None
        age = int(_age(p, d.died_at.astimezone(ISTANBUL).date()))
        if d.sex != FEMALE:
            assert d.maternal_status is None
        elif 15 <= age <= 49:
            assert d.maternal_status in (1, 2, 3, 4, 7, 9)
        else:
            assert d.maternal_status == 8


def test_pregnancy_related_deaths_are_rare_and_follow_fertility() -> None:
    rng = random.Random(3)
    draws = 200_000

    def share(age: int) -> float:
        return sum(maternal_status(rng, FEMALE, age) in PREGNANCY_RELATED for _ in range(draws)) / (
            draws
        )

    peak = share(27)
    assert 0.015 < peak < 0.035
    assert share(47) < peak / 10
    assert maternal_status(rng, pop.MALE, 27) is None
    assert maternal_status(rng, FEMALE, 60) == 8


def test_direct_obstetric_deaths_have_o_codes(tables: DemoTables) -> None:
    """Deaths of women of 28 drawn directly: the pregnancy-related ones mostly carry an obstetric
    (O) chain; no other death does."""
    generator = pop._Generator(tables, 5, YEARS, ANCHOR, _districts(), frozenset())
    person = PersonRow("10000000146", "AYŞE", "YILMAZ")
    born = ANCHOR - timedelta(days=int(28.5 * 365.25))
    related = obstetric = 0
    for _ in range(6_000):
        d = generator.death(
            person, FEMALE, born.date(), born, ANCHOR - timedelta(days=3), 28, pop.Place(6, None)
        )
        has_o = any(c.icd_code.startswith("O") for c in d.causes)
        if d.maternal_status in PREGNANCY_RELATED:
            related += 1
            obstetric += has_o
        else:
            assert not has_o
    assert 0.01 < related / 6_000 < 0.04
    assert obstetric / related > 0.5


# --- building blocks ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 7, 1000, 4097])
def test_permutation_is_a_bijection(size: int) -> None:
    permutation = Permutation(random.Random(size), size)
    assert sorted(permutation(i) for i in range(size)) == list(range(size))


def test_permutation_refuses_an_index_outside_its_range() -> None:
    with pytest.raises(ValueError, match="outside"):
        Permutation(random.Random(1), 10)(10)


def test_tables_must_name_every_province() -> None:
    broken = _data("demo_population.json")
    broken["province_population"] = broken["province_population"][:-1]
    with pytest.raises(ValueError, match="81 provinces"):
        demo_tables(_data("demo_names.json"), broken, provinces())


def test_tables_refuse_a_scenario_of_an_unknown_pool() -> None:
    broken = _data("demo_population.json")
    broken["causes"][0]["pool"] = "nonsense"
    with pytest.raises(ValueError, match="unknown pools"):
        demo_tables(_data("demo_names.json"), broken, provinces())


def test_tables_refuse_duplicate_names() -> None:
    names = _data("demo_names.json")
    names["male"].append(names["male"][0])
    with pytest.raises(ValueError, match="distinct"):
        demo_tables(names, _data("demo_population.json"), provinces())
