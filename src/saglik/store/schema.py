"""The tables. Every environment-specific row carries ``env`` ('live' | 'test'): one store, two
separated data sets, as the two base paths require."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from saglik.store.types import UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

instance_state = Table(
    "instance_state",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
"""Small named values: the audit pseudonymisation key, the credentials change counter."""

institutions = Table(
    "institutions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
)

service_users = Table(
    "service_users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("institution_id", ForeignKey("institutions.id"), nullable=False),
    Column("env", String(4), nullable=False),
    Column("username", String(100), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("province_code", SmallInteger, nullable=True),
    Column("district_code", Integer, nullable=True),
    Column("ip_allowlist", Text, nullable=True),
    Column("rate_limit", String(40), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("env", "username", name="uq_service_users_env_username"),
)

user_rights = Table(
    "user_rights",
    metadata,
    Column("user_id", ForeignKey("service_users.id", ondelete="CASCADE"), primary_key=True),
    Column("method", String(64), primary_key=True),
)

persons = Table(
    "persons",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("env", String(4), nullable=False),
    Column("identity_number", String(11), nullable=False),
    Column("first_name", String(200), nullable=False),
    Column("last_name", String(200), nullable=False),
    Column("consent_vaccination", Boolean, nullable=False, default=False),
    Column("consent_immunity", Boolean, nullable=False, default=False),
    Column("consent_test", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("env", "identity_number", name="uq_persons_env_identity_number"),
)

hes_codes = Table(
    "hes_codes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("env", String(4), nullable=False),
    Column("code", String(10), nullable=False),
    Column("person_id", ForeignKey("persons.id"), nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("cancelled_at", UtcDateTime, nullable=True),
    UniqueConstraint("env", "code", name="uq_hes_codes_env_code"),
)

risk_periods = Table(
    "risk_periods",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=True),
    Index("ix_risk_periods_person", "person_id", "started_at"),
    UniqueConstraint("person_id", "kind", "started_at", name="uq_risk_periods_natural"),
)

vaccinations = Table(
    "vaccinations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False),
    Column("dose_number", SmallInteger, nullable=False),
    Column("vaccine", String(100), nullable=False),
    Column("administered_at", UtcDateTime, nullable=False),
    Index("ix_vaccinations_person", "person_id", "administered_at"),
    UniqueConstraint("person_id", "dose_number", name="uq_vaccinations_natural"),
)

infections = Table(
    "infections",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False),
    Column("diagnosed_at", UtcDateTime, nullable=False),
    Index("ix_infections_person", "person_id", "diagnosed_at"),
    UniqueConstraint("person_id", "diagnosed_at", name="uq_infections_natural"),
)
"""Confirmed COVID-19 infections only."""

pcr_results = Table(
    "pcr_results",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("person_id", ForeignKey("persons.id"), nullable=False),
    Column("sampled_at", UtcDateTime, nullable=False),
    Column("result", String(8), nullable=False),
    Index("ix_pcr_results_person", "person_id", "result", "sampled_at"),
    UniqueConstraint("person_id", "sampled_at", name="uq_pcr_results_natural"),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("env", String(4), nullable=False),
    Column("service", String(8), nullable=False),
    Column("method", String(64), nullable=False),
    Column("institution_id", Integer, nullable=True),
    Column("user_id", Integer, nullable=True),
    Column("status", SmallInteger, nullable=False),
    Column("outcome", String(64), nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("client_ip", String(45), nullable=True),
    Column("repeats", Integer, nullable=False, server_default=text("1")),
    Index("ix_audit_events_institution_time", "institution_id", "occurred_at"),
    Index("ix_audit_events_time", "occurred_at"),
)
"""Append-only. No clear code, identity number or name is ever written here. ``repeats`` > 1:
one row stands for that many refusals of unauthenticated callers (same address, method, outcome,
minute)."""

auth_failures = Table(
    "auth_failures",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", UtcDateTime, nullable=False),
    Column("locked_until", UtcDateTime, nullable=True),
)
"""Wrong passwords counted per ``user:<env>:<username>`` and per ``addr:<client address>``,
shared by every worker (the guessing throttle, ``domain/throttle.py``)."""

audit_subjects = Table(
    "audit_subjects",
    metadata,
    Column("event_id", ForeignKey("audit_events.id"), nullable=False),
    Column("subject_ref", String(64), nullable=False),
    PrimaryKeyConstraint("subject_ref", "event_id"),
    sqlite_with_rowid=False,
)
"""Pseudonymous references (keyed HMAC) of every code or person a call touched. Keyed by
reference first: the key is the index the data subject's view reads (migration 0003)."""

moi_outbox = Table(
    "moi_outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("payload", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime, nullable=True),
    Column("last_error", String(200), nullable=True),
    Column("leased_until", UtcDateTime, nullable=True),
    Column("lease_token", String(32), nullable=True),
    Column("environment", String(8), nullable=False, server_default="live"),
    Column("withheld_at", UtcDateTime, nullable=True),
    Index("ix_moi_outbox_pending", "environment", "delivered_at", "withheld_at", "next_attempt_at"),
    Index("ix_moi_outbox_created", "created_at"),
)
"""Risky visitor reports for the Ministry of Interior, written with the audit record (§4.5).
A sender claims a row by writing its lease (``outbox_repo``): until ``leased_until`` no other
worker or machine takes it, and ``lease_token``, new with every claim, tells the sender whether
the row is still its own when it records the outcome.

``environment`` is the call's (``live`` or ``test``): each is sent only to its own receiver
(``SAGLIK_MOI_ENDPOINT``, ``SAGLIK_MOI_TEST_ENDPOINT``). A report is waiting until it is
``delivered_at`` (acknowledged) or ``withheld_at`` (recorded, never to be sent: a test report
with no test receiver; ``last_error`` says why). The pending index leads with the environment,
so the live backlog and each receiver's claims walk only their own waiting reports."""

job_leases = Table(
    "job_leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("leased_until", UtcDateTime, nullable=False),
)
"""One row per periodic job (fixture refresh, …): the worker that holds it until
``leased_until`` runs the job, so it runs once per interval for the whole service."""

districts = Table(
    "districts",
    metadata,
    Column("code", Integer, primary_key=True),
    Column("plate", SmallInteger, nullable=False, index=True),
    Column("name", String(100), nullable=False),
)
"""The shipped districts on a new store (``refdata.ensure_districts``); ``saglik refdata import``
loads another table (provinces are built in)."""

death_forms = Table(
    "death_forms",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("env", String(4), nullable=False),
    Column("form_no", String(20), nullable=False),
    Column("referans_no", String(20), nullable=False),
    Column("status", String(12), nullable=False),
    Column("identity_number", String(11), nullable=True),
    Column("passport_no", String(20), nullable=True),
    Column("nationality", String(3), nullable=False),
    Column("first_name", String(200), nullable=False),
    Column("last_name", String(200), nullable=False),
    Column("father_name", String(200), nullable=True),
    Column("mother_name", String(200), nullable=True),
    Column("birth_date", Date, nullable=True),
    Column("birth_place", String(100), nullable=True),
    Column("sex", SmallInteger, nullable=False),
    Column("died_at", UtcDateTime, nullable=False),
    Column("place_of_death_type", SmallInteger, nullable=False),
    Column("death_province", SmallInteger, nullable=False),
    Column("death_district", Integer, nullable=True),
    Column("residence_province", SmallInteger, nullable=False),
    Column("residence_district", Integer, nullable=True),
    Column("manner", SmallInteger, nullable=False),
    Column("maternal_status", SmallInteger, nullable=True),
    Column("autopsy", Boolean, nullable=True),
    Column("injured_at", UtcDateTime, nullable=True),
    Column("registered_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=True),
    UniqueConstraint("env", "form_no", "referans_no", name="uq_death_forms_env_form_ref"),
    Index("ix_death_forms_registered", "env", "registered_at"),
    Index("ix_death_forms_identity", "env", "identity_number"),
    Index("ix_death_forms_passport", "env", "passport_no"),
)
"""Names are stored NFC, Turkish upper case; times are UTC (the wire shows Istanbul time)."""

death_causes = Table(
    "death_causes",
    metadata,
    Column("form_id", ForeignKey("death_forms.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", SmallInteger, primary_key=True),
    Column("kind", SmallInteger, nullable=False),
    Column("icd_code", String(8), nullable=False),
    Column("interval", String(100), nullable=True),
)
"""The WHO cause chain in order: Part I a (immediate) … d (underlying), then Part II."""

death_form_history = Table(
    "death_form_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("form_id", ForeignKey("death_forms.id", ondelete="CASCADE"), nullable=False),
    Column("env", String(4), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("action", String(12), nullable=False),
    Column("changes", Text, nullable=True),
    Index("ix_death_form_history_day", "env", "at"),
    Index("ix_death_form_history_form", "form_id"),
)
"""Every registration, correction, return and approval; the change feed reads this."""

operator_tokens = Table(
    "operator_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)
"""Bearer tokens of the operator API. Only the SHA-256 of each token is kept: a token is 256
random bits, so a slow password hash would add latency and no protection."""

operator_changes = Table(
    "operator_changes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("actor", String(120), nullable=False),
    Column("env", String(4), nullable=True),
    Column("entity", String(32), nullable=False),
    Column("action", String(32), nullable=False),
    Column("target", String(200), nullable=True),
    Column("subject_ref", String(64), nullable=True),
    Column("before", Text, nullable=True),
    Column("after", Text, nullable=True),
    Index("ix_operator_changes_time", "occurred_at"),
    Index("ix_operator_changes_subject", "subject_ref"),
)
"""Append-only log of every operator change: who, what, when, and before/after as JSON. The
person concerned is named only by the audit pseudonym (``subject_ref``), as in ``audit_events``;
``target`` holds non-personal keys (institution, username, FormNo)."""

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("token_id", ForeignKey("operator_tokens.id"), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
)
"""Signed-in browser sessions of the operator console. Kept in the store, not in the cookie, so
signing out (or revoking the token that signed in) ends the session in every worker at once; only
the SHA-256 of the cookie's value is kept, as for operator tokens."""
