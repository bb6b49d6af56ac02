"""A synthetic, reproducible population for demos and load tests (``saglik demo generate``).

Pure and deterministic: every draw comes from one ``random.Random(seed)``, every instant is an
offset from an *anchor* the caller passes in, and persons are produced one at a time, so a million
of them need no more memory than one. The same seed and anchor give the same persons, codes,
events and death forms, byte for byte, which is what makes a second run a no-op. The service uses
the clock's current date at midnight UTC as the anchor (:func:`anchor_for`): a run on the same UTC
day reproduces the store, a run on another day shifts every instant with the day.

Person *i* depends only on the seed and the draws before it, never on the count: the first 10,000
persons of a million-person run are the 10,000 of a 10,000-person run (with the same seed, anchor
and years). Identity numbers, HES codes and FormNos are unique within a run, and two seeds less
than 90 apart never share one (``SEED_BLOCKS``), so populations can be stacked in one store.

Realism is that of public aggregates, not of individuals: TÜİK's 2023 age pyramid and province
populations, Türkiye's crude death rate (~6.2 per 1,000 a year, ~525 k deaths for 85 M people) from
a Gompertz–Makeham hazard, manners of death and ICD-10 cause chains in TÜİK-like proportions, and
a COVID-19 pandemic (vaccinations, infections, PCR tests, isolation and quarantine) replayed over
the two years before the anchor, so the HES plus fields (6 months, 72 hours) have something to
answer whatever the day. The tables live in ``data/demo_*.json`` and are passed in (no I/O here).
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Generic, TypeVar

from saglik.domain.hes import NO_EXPIRY
from saglik.domain.obs import FEMALE, Cause, DeathRecord, Place
from saglik.domain.records import CodeRow, EventRow, PersonRow
from saglik.domain.tckn import complete_tckn
from saglik.domain.turkish import normalize_name

T = TypeVar("T")

MALE = 1
DAY = 86_400
YEAR_DAYS = 365.25
MAX_AGE = 120
PANDEMIC_DAYS = 730
"""The pandemic (vaccinations, infections, tests, risk periods) is replayed over this many days
before the anchor."""
CODE_VALIDITY_DAYS = 365
REF_ALPHABET = "".join(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" if c not in "0O1IL")
"""ReferansNo characters: the registry's own unambiguous alphabet (services/obs.py)."""
FORM_NO_BASE = 1_000_000_000
FORM_NO_SPACE = 8_000_000_000
"""Demo FormNos are 1000000000–8999999999: ten digits, never the fixtures' 9000000xxx."""
TCKN_SPACE = 900_000_000
CODE_SPACE = 26 * 10 * 26 * 10**7
SEED_BLOCKS = 90
"""Each space is cut into this many blocks and a seed draws from block ``seed % 90``: two runs
with different seeds (below 90 apart) never issue the same identity number, code or FormNo, so
populations can be stacked in one store without one person overwriting another. A block holds
10 million identity numbers; a larger run continues into the next seed's block."""
PERMUTATION_KEY = "saglik demo population"
"""The permutations are one fixed bijection per space (blocks must not overlap across seeds);
this seeds their keys. The seed still decides everything else."""
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# Mortality: hazard(x) = makeham + b * exp(c * x) (+ infant in the first year), per year of age x.
# Calibrated so the generated deaths run at ~6.2 per 1,000 persons a year, with life expectancies
# of ~73 (men) and ~80 (women) years (TÜİK 2021–2023: ~75 and ~81); men's old-age hazard is ~1.7
# times women's.
GOMPERTZ_C = 0.095
GOMPERTZ_B = {MALE: 3.9e-5, FEMALE: 2.3e-5}
MAKEHAM = {MALE: 0.0008, FEMALE: 0.0003}
INFANT_HAZARD = 0.009
"""~9 infant deaths per 1,000 births (TÜİK 2023: 10.0)."""

MALE_SHARE = 0.5007
"""TÜİK 2023: 42.74 M men, 42.63 M women."""
TWO_GIVEN_NAMES = 0.15

# KadinOlumuNedeni for a deceased woman of 15–49: pregnancy-related (2, 3, 4) at a rate following
# age-specific fertility (at most 2.5 % of the deaths of women of 25–29: ~13 maternal deaths per
# 100,000 live births, plus late and incidental pregnancy-associated deaths); 9 unknown,
# 7 unspecified, else 1 (not pregnant in the last year). Other women: 8 (not applicable); men: none.
MATERNAL_AGES = (15, 49)
PREGNANCY_RELATED_PEAK = 0.025
FERTILITY = {15: 0.15, 20: 0.6, 25: 1.0, 30: 0.95, 35: 0.55, 40: 0.15, 45: 0.02}
PREGNANCY_STATUS = ((2, 0.3), (3, 0.5), (4, 0.2))
"""Among pregnancy-related deaths: at death, within 42 days, 43 days to a year after."""
DIRECT_OBSTETRIC = {2: 0.8, 3: 0.8, 4: 0.4}
"""The share of pregnancy-related deaths whose cause chain is obstetric (O codes); the rest die of
what others do (incidental: an accident, a cancer)."""
NOT_APPLICABLE, NOT_PREGNANT, UNSPECIFIED, UNKNOWN_STATUS = 8, 1, 7, 9
PREGNANCY_RELATED = frozenset({2, 3, 4})
EXTERNAL_MANNERS = frozenset({5, 6, 7, 8, 9, 10})
"""Accidents, suicide, homicide, natural disaster: the underlying cause is a V01–Y98 code."""

INTERVAL_RANGES = {"dakika": (5, 55, 5), "saat": (1, 23, 1), "gün": (1, 27, 1), "ay": (1, 11, 1)}
INTERVAL_UNKNOWN = 0.1

# Vaccination coverage by age at the anchor: P(at least 1, 2, 3, 4 doses) (Türkiye's campaign:
# ~85 % of adults with one dose, ~77 % with two, a third dose for about a third, more when older).
COVERAGE = (
    (12, (0.0, 0.0, 0.0, 0.0)),
    (18, (0.55, 0.45, 0.05, 0.0)),
    (30, (0.80, 0.70, 0.25, 0.03)),
    (50, (0.85, 0.77, 0.33, 0.06)),
    (65, (0.92, 0.88, 0.55, 0.15)),
    (MAX_AGE + 1, (0.93, 0.89, 0.65, 0.30)),
)
FIRST_DOSE_DAY = ((18, (200, 320)), (50, (60, 240)), (65, (30, 120)), (MAX_AGE + 1, (0, 60)))
"""Days after the pandemic start of a first dose, by age: the oldest first, as the rollout went."""
DOSE_GAP_DAYS = ((28, 42), (90, 180), (120, 210))
INFECTED = {True: 0.12, False: 0.23}
"""P(a confirmed infection), children (under 18) vs adults: about a fifth of everyone."""
RECENT_INFECTION = 0.12
"""Of infections, the share in the last 180 days (is_immune has something to say)."""
REINFECTED = 0.05
CURRENT_CASE = 0.004
CURRENT_CONTACT = 0.004
"""Isolation (case) or quarantine (contact) still open at the anchor: about 1 % RISKY."""
PAST_CONTACT = 0.10
CONTACT_TESTED = 0.5
TESTED_NEGATIVE = 0.35
RECENT_NEGATIVE = 0.03
"""A negative PCR in the 72 hours before the anchor (last_negative_test_date)."""

CODE_ACTIVE, CODE_EXPIRED = 0.80, 0.90
"""Living persons: 80 % a 1-year code still valid, 10 % expired, 10 % without expiry."""
DECEASED_NO_EXPIRY = 0.1
HOSPITAL = 1
DIED_IN_RESIDENCE = {HOSPITAL: 0.88}
DIED_IN_RESIDENCE_DEFAULT = 0.97
SAME_DISTRICT = 0.8
BORN_IN_RESIDENCE = 0.7


def anchor_for(now: datetime) -> datetime:
    """The instant a population is generated against: ``now``'s UTC date at 00:00 UTC."""
    moment = now.astimezone(UTC)
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


# --- output -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DemoPerson:
    """One person and everything recorded about them. ``sex``, ``birth_date`` and ``residence``
    are not stored for the living (the HES tables have no such columns) but are what the
    population's shape is checked against."""

    person: PersonRow
    code: CodeRow
    events: tuple[EventRow, ...]
    death: DeathRecord | None
    sex: int
    birth_date: date
    residence: Place


# --- tables -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Weighted(Generic[T]):
    """Items with cumulative weights: one ``random()`` and a bisection per draw."""

    items: tuple[T, ...]
    cumulative: tuple[float, ...]
    last: int

    @classmethod
    def of(cls, pairs: Sequence[tuple[T, float]]) -> Weighted[T]:
        kept = [(item, float(w)) for item, w in pairs if w > 0]
        if not kept:
            raise ValueError("nothing to draw from (no positive weight)")
        total = 0.0
        cumulative = []
        for _item, weight in kept:
            total += weight
            cumulative.append(total)
        return cls(tuple(item for item, _ in kept), tuple(cumulative), len(kept) - 1)

    def pick(self, rng: random.Random) -> T:
        index = bisect_right(self.cumulative, rng.random() * self.cumulative[-1])
        return self.items[min(index, self.last)]  # min: r * total may round up to total


@dataclass(frozen=True, slots=True)
class ChainLine:
    """One line of Part I: one of ``codes``, present with probability ``presence``."""

    codes: tuple[str, ...]
    unit: str
    presence: float = 1.0


@dataclass(frozen=True, slots=True)
class CauseScenario:
    pool: str
    name: str
    weight: float
    min_age: int
    max_age: int
    sex: int | None
    lines: tuple[ChainLine, ...]
    contributing: tuple[str, ...] = ()
    p_contributing: float = 0.0

    def fits(self, sex: int, age: int) -> bool:
        return self.min_age <= age <= self.max_age and self.sex in (None, sex)


@dataclass(frozen=True, slots=True)
class PoolRules:
    """What a kind of death implies beyond its causes: where it happens, whether an autopsy is
    usual, whether there was an injury (and so ``injured_at``)."""

    places: Weighted[int]
    autopsy: float
    injury: bool


@dataclass(frozen=True)
class DemoTables:
    """Everything the generator draws from, parsed and checked once."""

    male_names: Weighted[str]
    female_names: Weighted[str]
    surnames: Weighted[str]
    age_groups: Weighted[tuple[int, int]]
    provinces: Weighted[int]
    province_names: Mapping[int, str]
    """Plate → name as stored (NFC, Turkish upper case), for ``birth_place``."""
    pools: Mapping[str, PoolRules]
    manner_pool: Mapping[int, str]
    manners: Mapping[tuple[int, int], Weighted[int]]
    """(sex, age) → OlumSekli, restricted to manners with a cause scenario for that sex and age."""
    scenarios: Mapping[tuple[str, int, int], Weighted[CauseScenario]]
    """(pool, sex, age) → cause scenarios."""

    def icd_codes(self) -> frozenset[str]:
        """Every ICD-10 code a death can carry (for validation against the WHO list)."""
        codes: set[str] = set()
        for weighted in self.scenarios.values():
            for scenario in weighted.items:
                codes.update(scenario.contributing)
                for line in scenario.lines:
                    codes.update(line.codes)
        return frozenset(codes)


def _zipf(names: Sequence[str], offset: int) -> Weighted[str]:
    """Rank-based weights 1/(rank + offset): the list's order is the names' frequency order."""
    stored = [normalize_name(n) for n in names]
    if len(set(stored)) != len(stored) or not all(stored):
        raise ValueError("name lists must hold distinct, non-blank names")
    return Weighted.of([(name, 1.0 / (rank + offset)) for rank, name in enumerate(stored)])


def _scenario(raw: Mapping[str, Any]) -> CauseScenario:
    lines = tuple(
        ChainLine(tuple(line["codes"]), line["unit"], float(line.get("p", 1.0)))
        for line in raw["lines"]
    )
    if not 1 <= len(lines) <= 4 or all(line.presence < 1.0 for line in lines):
        raise ValueError(f"{raw['name']}: 1–4 lines, at least one of them always present")
    for line in lines:
        if not line.codes or (line.unit not in INTERVAL_RANGES and line.unit != "yıl"):
            raise ValueError(f"{raw['name']}: each line needs codes and a known unit")
    low, high = raw["ages"]
    return CauseScenario(
        pool=raw["pool"],
        name=raw["name"],
        weight=float(raw["weight"]),
        min_age=int(low),
        max_age=int(high),
        sex=raw.get("sex"),
        lines=lines,
        contributing=tuple(raw.get("contributing", ())),
        p_contributing=float(raw.get("p_contributing", 0.0)),
    )


def demo_tables(
    names: Mapping[str, Any], population: Mapping[str, Any], province_names: Mapping[int, str]
) -> DemoTables:
    """Parse and check ``data/demo_names.json`` and ``data/demo_population.json``.

    Raises ValueError on a table the generator could not draw from (a province missing or not
    one of the 81, a scenario of an unknown pool, an age no manner of death has a scenario for, …).
    Codes are checked against the ÖBS and ICD-10 tables by the caller (they are data, not here)."""
    rows = population["province_population"]
    plates = {int(plate): int(people) for plate, _name, people in rows}
    if len(rows) != len(plates) or {int(p): n for p, n, _ in rows} != dict(province_names):
        raise ValueError("province_population must list each of the 81 provinces once, by name")
    pools = {
        name: PoolRules(
            Weighted.of([(int(k), float(v)) for k, v in rules["places"].items()]),
            float(rules["autopsy"]),
            bool(rules["injury"]),
        )
        for name, rules in population["pools"].items()
    }
    scenarios = [_scenario(raw) for raw in population["causes"]]
    if unknown := {s.pool for s in scenarios} - set(pools):
        raise ValueError(f"scenarios name unknown pools: {sorted(unknown)}")
    by_pool: dict[tuple[str, int, int], Weighted[CauseScenario]] = {}
    for pool in pools:
        for sex in (MALE, FEMALE):
            for age in range(MAX_AGE + 1):
                fitting = [(s, s.weight) for s in scenarios if s.pool == pool and s.fits(sex, age)]
                if fitting:
                    by_pool[(pool, sex, age)] = Weighted.of(fitting)
    for age in range(MATERNAL_AGES[0], MATERNAL_AGES[1] + 1):
        for pool in ("maternal", "late_maternal"):
            if (pool, FEMALE, age) not in by_pool:
                raise ValueError(f"no {pool} scenario for a woman of {age}")
    manner_table = population["manners"]
    manner_pool = {int(k): v for k, v in manner_table["pools"].items()}
    manners: dict[tuple[int, int], Weighted[int]] = {}
    for band in manner_table["bands"]:
        low, high = band["ages"]
        for sex in (MALE, FEMALE):
            weights = {int(k): float(v) for k, v in band[str(sex)].items()}
            for age in range(low, min(high, MAX_AGE) + 1):
                usable = [
                    (m, w) for m, w in weights.items() if (manner_pool[m], sex, age) in by_pool
                ]
                manners[(sex, age)] = Weighted.of(usable)
    if len(manners) != 2 * (MAX_AGE + 1):
        raise ValueError(f"manner bands must cover ages 0–{MAX_AGE} exactly once")
    return DemoTables(
        male_names=_zipf(names["male"], 8),
        female_names=_zipf(names["female"], 8),
        surnames=_zipf(names["surnames"], 15),
        age_groups=Weighted.of([((int(s), 5), float(w)) for s, w in population["age_pyramid"]]),
        provinces=Weighted.of(sorted(plates.items())),
        province_names={p: normalize_name(n) for p, n in province_names.items()},
        pools=pools,
        manner_pool=manner_pool,
        manners=manners,
        scenarios=by_pool,
    )


# --- the model, one draw at a time -------------------------------------------------------------


def cumulative_hazard(sex: int, age: float) -> float:
    """∫₀^age of the yearly death hazard (Gompertz–Makeham plus the first year's infant term)."""
    b = GOMPERTZ_B[sex]
    return (
        MAKEHAM[sex] * age
        + b / GOMPERTZ_C * (math.exp(GOMPERTZ_C * age) - 1.0)
        + INFANT_HAZARD * min(age, 1.0)
    )


def death_age(rng: random.Random, sex: int, start: float, end: float) -> float | None:
    """The age at death within ``[start, end)`` years of age, or None if the person survives it."""
    if end <= start:
        return None
    h_start = cumulative_hazard(sex, start)
    exposure = cumulative_hazard(sex, end) - h_start
    u = rng.random()
    if u >= -math.expm1(-exposure):
        return None
    target = h_start - math.log1p(-u)
    low, high = start, end
    for _ in range(40):
        middle = (low + high) / 2
        if cumulative_hazard(sex, middle) < target:
            low = middle
        else:
            high = middle
    return low


def maternal_status(rng: random.Random, sex: int, age: int) -> int | None:
    """KadinOlumuNedeni of a death at ``age``: only ever set for women."""
    if sex != FEMALE:
        return None
    if not MATERNAL_AGES[0] <= age <= MATERNAL_AGES[1]:
        return NOT_APPLICABLE
    r = rng.random()
    related = PREGNANCY_RELATED_PEAK * FERTILITY[age - age % 5]
    if r < related:
        r /= related
        for status, share in PREGNANCY_STATUS:
            if r < share:
                return status
            r -= share
        return PREGNANCY_STATUS[-1][0]
    r -= related
    if r < 0.03:
        return UNKNOWN_STATUS
    if r < 0.04:
        return UNSPECIFIED
    return NOT_PREGNANT


def interval(rng: random.Random, unit: str, age: int) -> str | None:
    """``Sure`` of a cause line, the way a physician writes it (``2 saat``, ``10 yıl``)."""
    if rng.random() < INTERVAL_UNKNOWN:
        return None
    if unit == "yıl":
        return f"{rng.randint(1, max(1, min(age, 30)))} yıl"
    low, high, step = INTERVAL_RANGES[unit]
    return f"{rng.randrange(low, high + 1, step)} {unit}"


def cause_chain(rng: random.Random, scenario: CauseScenario, age: int) -> tuple[Cause, ...]:
    """Part I from line a (immediate) down to the underlying cause, then Part II. With one line
    it is line a; with more, the last is the underlying cause (kind 4) and those between are
    intermediate (2, 3), as the registry's fixtures write them."""
    drawn = [
        (line.codes[int(rng.random() * len(line.codes))], line.unit)
        for line in scenario.lines
        if line.presence >= 1.0 or rng.random() < line.presence
    ]
    kinds = {1: (1,), 2: (1, 4), 3: (1, 2, 4), 4: (1, 2, 3, 4)}[len(drawn)]
    causes = [
        Cause(kind, code, interval(rng, unit, age))
        for kind, (code, unit) in zip(kinds, drawn, strict=True)
    ]
    if scenario.contributing and rng.random() < scenario.p_contributing:
        used = {code for code, _ in drawn}
        extra = [c for c in scenario.contributing if c not in used]
        if extra:
            causes.append(
                Cause(5, extra[int(rng.random() * len(extra))], interval(rng, "yıl", age))
            )
    return tuple(causes)


# --- keyed permutations: unique numbers without remembering them -------------------------------


class Permutation:
    """A keyed bijection of ``range(size)`` (a 4-round Feistel network with cycle walking): index
    *i* always maps to the same number and no two indexes to one, so identity numbers, codes and
    form numbers are unique and unpredictable-looking without a set of those already issued."""

    __slots__ = ("_half", "_keys", "_mask", "_size")

    def __init__(self, rng: random.Random, size: int) -> None:
        bits = max(2, (size - 1).bit_length())
        bits += bits & 1
        self._half = bits // 2
        self._mask = (1 << self._half) - 1
        self._keys = tuple(rng.getrandbits(32) for _ in range(4))
        self._size = size

    def __call__(self, index: int) -> int:
        if not 0 <= index < self._size:
            raise ValueError("index outside the permutation's range")
        half, mask = self._half, self._mask
        value = index
        while True:
            left, right = value >> half, value & mask
            for key in self._keys:
                h = ((right + key) * 0x9E3779B1) & 0xFFFFFFFF
                h ^= h >> 15
                h = (h * 0x85EBCA6B) & 0xFFFFFFFF
                h ^= h >> 13
                left, right = right, left ^ (h & mask)
            value = (left << half) | right
            if value < self._size:
                return value


def _code(number: int) -> str:
    """Letter, digit, letter, seven digits: the generated shape (``domain/hescode.py``)."""
    number, first = divmod(number, 26)
    number, digit = divmod(number, 10)
    number, second = divmod(number, 26)
    return f"{LETTERS[first]}{digit}{LETTERS[second]}{number:07d}"


# --- the generator ------------------------------------------------------------------------------


def _shares(weighted: Weighted[T]) -> list[float]:
    previous = 0.0
    shares = []
    for cumulative in weighted.cumulative:
        shares.append(cumulative - previous)
        previous = cumulative
    return shares


def _by_age(table: Sequence[tuple[int, T]], age: float) -> T:
    for upper, value in table:
        if age < upper:
            return value
    return table[-1][1]


class _Generator:
    def __init__(
        self,
        tables: DemoTables,
        seed: int,
        years: int,
        anchor: datetime,
        districts: Mapping[int, Sequence[int]],
        exclude_identity_numbers: frozenset[str],
    ) -> None:
        self.t = tables
        self.rng = random.Random(seed)  # noqa: S311 - reproducible on purpose; nothing secret
        self.years = years
        self.anchor = anchor
        self.anchor_day = anchor.date()
        self.districts = {plate: tuple(codes) for plate, codes in districts.items() if codes}
        self.exclude = exclude_identity_numbers
        keys = random.Random(PERMUTATION_KEY)  # noqa: S311 - a fixed shuffle, not a secret
        self.tckn = Permutation(keys, TCKN_SPACE)
        self.codes = Permutation(keys, CODE_SPACE)
        self.forms = Permutation(keys, FORM_NO_SPACE)
        block = seed % SEED_BLOCKS
        self.tckn_start = block * (TCKN_SPACE // SEED_BLOCKS)
        self.code_start = block * (CODE_SPACE // SEED_BLOCKS)
        self.form_start = block * (FORM_NO_SPACE // SEED_BLOCKS)
        self.next_tckn = 0
        self.deaths = 0
        self.ages = {sex: self.age_weights(sex) for sex in (MALE, FEMALE)}

    def age_weights(self, sex: int) -> Weighted[int]:
        """Age at the anchor in whole years: the pyramid, each age divided by the chance of
        surviving the window to it. The pyramid counts the living; those who die in the window are
        drawn from the same ages as if they had lived, so the survivors' ages stay the pyramid's
        and each past year's deaths come from a population of the pyramid's shape."""
        weights = []
        for (start, width), share in zip(
            self.t.age_groups.items, _shares(self.t.age_groups), strict=True
        ):
            for age in range(start, start + width):
                middle = age + 0.5
                exposure = cumulative_hazard(sex, middle) - cumulative_hazard(
                    sex, max(0.0, middle - self.years)
                )
                weights.append((age, share / width * math.exp(exposure)))
        return Weighted.of(weights)

    # small helpers -----------------------------------------------------------------------------

    def ago(self, seconds: float) -> datetime:
        return self.anchor - timedelta(seconds=int(seconds))

    def between(self, start: datetime, end: datetime) -> datetime:
        """A whole-second instant in ``[start, end)`` (``start`` if the span is empty)."""
        span = int((end - start).total_seconds())
        return start + timedelta(seconds=int(self.rng.random() * span)) if span > 0 else start

    def identity_number(self) -> str:
        while True:
            index = (self.tckn_start + self.next_tckn) % TCKN_SPACE
            number = complete_tckn(str(100_000_000 + self.tckn(index)))
            self.next_tckn += 1
            if number not in self.exclude:
                return number

    def district(self, plate: int) -> int | None:
        codes = self.districts.get(plate)
        return codes[int(self.rng.random() * len(codes))] if codes else None

    def given_name(self, names: Weighted[str]) -> str:
        first = names.pick(self.rng)
        if self.rng.random() < TWO_GIVEN_NAMES:
            second = names.pick(self.rng)
            if second != first:
                return f"{first} {second}"
        return first

    # one person -----------------------------------------------------------------------------

    def person(self, index: int) -> DemoPerson:
        rng, t = self.rng, self.t
        sex = MALE if rng.random() < MALE_SHARE else FEMALE
        age_days = max(1, int((self.ages[sex].pick(rng) + rng.random()) * YEAR_DAYS))
        birth_date = self.anchor_day - timedelta(days=age_days)
        born = datetime(birth_date.year, birth_date.month, birth_date.day, tzinfo=UTC)
        age = age_days / YEAR_DAYS
        plate = t.provinces.pick(rng)
        residence = Place(plate, self.district(plate))
        first = self.given_name(t.male_names if sex == MALE else t.female_names)
        last = t.surnames.pick(rng)
        number = self.identity_number()
        r = rng.random()
        if r < 0.30:
            consent = (True, True, True)
        elif r < 0.55:
            consent = (False, False, False)
        else:
            consent = (rng.random() < 0.55, rng.random() < 0.45, rng.random() < 0.5)
        person = PersonRow(number, first, last, *consent)

        died_age = death_age(rng, sex, max(0.0, age - self.years), age)
        died_at: datetime | None = None
        if died_age is not None:
            died_at = max(self.ago((age - died_age) * YEAR_DAYS * DAY), born + timedelta(hours=1))
            died_at = min(died_at, self.anchor - timedelta(seconds=1))
        horizon = died_at or self.anchor
        code = self.code(index, number, born, died_at)
        events = self.events(number, age, born, horizon)
        death = None
        if died_at is not None and died_age is not None:
            death = self.death(person, sex, birth_date, born, died_at, int(died_age), residence)
        return DemoPerson(person, code, events, death, sex, birth_date, residence)

    def code(self, index: int, number: str, born: datetime, died_at: datetime | None) -> CodeRow:
        rng = self.rng
        code = _code(self.codes((self.code_start + index) % CODE_SPACE))
        validity = timedelta(days=CODE_VALIDITY_DAYS)
        earliest = born + timedelta(hours=2)
        if died_at is not None:
            created = max(died_at - timedelta(seconds=int(rng.uniform(1, 364) * DAY)), earliest)
            created = min(created, died_at)
            expires = NO_EXPIRY if rng.random() < DECEASED_NO_EXPIRY else created + validity
            return CodeRow(code, number, created, expires, died_at)
        r = rng.random()
        if r < CODE_ACTIVE:
            created = max(self.ago(rng.uniform(1, 364) * DAY), earliest)
            return CodeRow(code, number, created, created + validity)
        if r < CODE_EXPIRED:
            created = self.ago(rng.uniform(366, 1095) * DAY)
            if created < earliest:  # too young to hold an expired code: a valid one then
                created = min(earliest, self.anchor - timedelta(hours=1))
            return CodeRow(code, number, created, created + validity)
        created = max(self.ago(rng.uniform(1, PANDEMIC_DAYS) * DAY), earliest)
        return CodeRow(code, number, created, NO_EXPIRY)

    def events(
        self, number: str, age: float, born: datetime, horizon: datetime
    ) -> tuple[EventRow, ...]:
        """The pandemic as this person lived it, up to ``horizon`` (death, or the anchor)."""
        rng = self.rng
        start = max(self.ago(PANDEMIC_DAYS * DAY), born + timedelta(days=1))
        if start >= horizon:
            return ()
        events: list[EventRow] = []
        coverage = _by_age(COVERAGE, age)
        r = rng.random()
        doses = sum(1 for p in coverage if r < p)
        if doses:
            low, high = _by_age(FIRST_DOSE_DAY, age)
            day = rng.uniform(low, high)
            coronavac = rng.random() < (0.7 if age >= 60 else 0.35)
            pandemic_start = self.ago(PANDEMIC_DAYS * DAY)
            for dose in range(1, doses + 1):
                if dose > 1:
                    gap_low, gap_high = DOSE_GAP_DAYS[dose - 2]
                    day += rng.uniform(gap_low, gap_high)
                    if dose == 3:
                        coronavac = rng.random() < 0.2
                at = pandemic_start + timedelta(seconds=int(day * DAY))
                if at >= horizon or at < start:
                    break
                vaccine = "CoronaVac" if coronavac else "BioNTech"
                events.append(EventRow(number, "vaccination", at, dose, vaccine))
        tested: set[datetime] = set()

        def pcr(at: datetime, negative: bool) -> None:
            if start <= at < horizon and at not in tested:
                tested.add(at)
                events.append(EventRow(number, "pcr", at, negative=negative))

        def risk(kind: str, begin: datetime, end: datetime) -> None:
            if start <= begin < horizon:
                events.append(EventRow(number, "risk", begin, risk_kind=kind, ended_at=end))

        def infection(at: datetime) -> None:
            if not start + timedelta(days=2) <= at < horizon:  # room for the positive test
                return
            events.append(EventRow(number, "infection", at))
            pcr(at - timedelta(seconds=int(rng.uniform(2, 36) * 3600)), negative=False)
            end = at + timedelta(days=rng.randint(10, 14))
            # the living may still be isolated at the anchor; the dead were isolated until death
            risk("case", at, end if horizon == self.anchor else min(end, horizon))

        if rng.random() < INFECTED[age < 18]:
            if rng.random() < RECENT_INFECTION:
                first_at = self.between(max(start, self.ago(180 * DAY)), self.ago(14 * DAY))
            else:
                first_at = self.between(start, self.ago(180 * DAY))
            infection(first_at)
            if rng.random() < REINFECTED:
                infection(self.between(first_at + timedelta(days=90), horizon))
        r = rng.random()
        if r < CURRENT_CASE:
            infection(self.ago(rng.uniform(0.1, 9.5) * DAY))
        elif r < CURRENT_CASE + CURRENT_CONTACT:
            begin = self.ago(rng.uniform(0.1, 6.5) * DAY)
            risk("contact", begin, begin + timedelta(days=rng.randint(7, 10)))
        if rng.random() < PAST_CONTACT:
            begin = self.between(start, self.ago(20 * DAY))
            end = begin + timedelta(days=rng.randint(7, 14))
            risk("contact", begin, min(end, horizon))
            if rng.random() < CONTACT_TESTED:
                pcr(end - timedelta(seconds=int(rng.uniform(1, 24) * 3600)), negative=True)
        if rng.random() < TESTED_NEGATIVE:
            for _ in range(rng.randint(1, 3)):
                pcr(self.between(start, horizon), negative=True)
        if rng.random() < RECENT_NEGATIVE:
            pcr(self.ago(rng.uniform(1, 70) * 3600), negative=True)
        return tuple(events)

    def death(
        self,
        person: PersonRow,
        sex: int,
        birth_date: date,
        born: datetime,
        died_at: datetime,
        age: int,
        residence: Place,
    ) -> DeathRecord:
        rng, t = self.rng, self.t
        age = min(age, MAX_AGE)
        status = maternal_status(rng, sex, age)
        pool = ""
        manner = 1
        if status in PREGNANCY_RELATED and rng.random() < DIRECT_OBSTETRIC[status]:
            pool = "late_maternal" if status == 4 else "maternal"
        else:
            manner = t.manners[(sex, age)].pick(rng)
            pool = t.manner_pool[manner]
        scenario = t.scenarios[(pool, sex, age)].pick(rng)
        causes = cause_chain(rng, scenario, age)
        rules = t.pools[pool]
        place_type = rules.places.pick(rng)
        if rng.random() < DIED_IN_RESIDENCE.get(place_type, DIED_IN_RESIDENCE_DEFAULT):
            same = residence.district is not None and rng.random() < SAME_DISTRICT
            death_place = Place(
                residence.province,
                residence.district if same else self.district(residence.province),
            )
        else:
            plate = t.provinces.pick(rng)
            death_place = Place(plate, self.district(plate))
        injured_at = None
        if rules.injury:
            r = rng.random()
            hours = rng.uniform(0.1, 2) if r < 0.6 else rng.uniform(2, 48) if r < 0.9 else None
            delay = hours * 3600 if hours is not None else rng.uniform(2, 30) * DAY
            injured_at = max(died_at - timedelta(seconds=int(delay)), born)
        r = rng.random()
        hours = rng.uniform(0.5, 12) if r < 0.7 else rng.uniform(12, 72) if r < 0.95 else None
        delay = hours * 3600 if hours is not None else rng.uniform(3, 10) * DAY
        registered_at = min(
            died_at + timedelta(seconds=int(delay)), self.anchor - timedelta(seconds=1)
        )
        birth_plate = residence.province if rng.random() < BORN_IN_RESIDENCE else None
        birth_plate = birth_plate or t.provinces.pick(rng)
        form_no = str(FORM_NO_BASE + self.forms((self.form_start + self.deaths) % FORM_NO_SPACE))
        self.deaths += 1
        return DeathRecord(
            form_no=form_no,
            referans_no="".join(rng.choices(REF_ALPHABET, k=8)),
            identity_number=person.identity_number,
            passport_no=None,
            nationality="TR",
            first_name=person.first_name,
            last_name=person.last_name,
            father_name=t.male_names.pick(rng),
            mother_name=t.female_names.pick(rng),
            birth_date=birth_date,
            birth_place=t.province_names[birth_plate],
            sex=sex,
            died_at=died_at,
            place_of_death_type=place_type,
            death_place=death_place,
            residence=residence,
            manner=manner,
            maternal_status=status,
            registered_at=registered_at,
            updated_at=None,
            autopsy=rng.random() < (0.9 if manner == 4 else rules.autopsy),
            injured_at=injured_at,
            causes=causes,
        )


def generate_population(
    tables: DemoTables,
    *,
    seed: int,
    count: int,
    years: int,
    anchor: datetime,
    districts: Mapping[int, Sequence[int]] | None = None,
    exclude_identity_numbers: frozenset[str] = frozenset(),
) -> Iterator[DemoPerson]:
    """``count`` persons, one at a time; deaths fall in the ``years`` years before ``anchor``.

    ``districts`` maps a plate code to its district codes (none: no district is given anywhere).
    ``exclude_identity_numbers`` are never issued (the test environment's fixture persons), so a
    demo person can never overwrite one."""
    if anchor.tzinfo is None:
        raise ValueError("the anchor must be an aware datetime")
    if count < 0 or not 1 <= years <= 100:
        raise ValueError("count must be ≥ 0 and years 1–100")
    if count > TCKN_SPACE - len(exclude_identity_numbers):
        raise ValueError("more persons than there are T.C. Kimlik numbers")
    generator = _Generator(
        tables, seed, years, anchor.astimezone(UTC), districts or {}, exclude_identity_numbers
    )
    for index in range(count):
        yield generator.person(index)
