"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("env", sa.String(length=4), nullable=False),
        sa.Column("service", sa.String(length=8), nullable=False),
        sa.Column("method", sa.String(length=64), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=64), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("client_ip", sa.String(length=45), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_events_institution_time", ["institution_id", "occurred_at"], unique=False
        )
        batch_op.create_index("ix_audit_events_time", ["occurred_at"], unique=False)

    op.create_table(
        "instance_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_instance_state")),
    )
    op.create_table(
        "institutions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_institutions")),
        sa.UniqueConstraint("name", name=op.f("uq_institutions_name")),
    )
    op.create_table(
        "moi_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moi_outbox")),
    )
    with op.batch_alter_table("moi_outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_moi_outbox_pending", ["delivered_at", "next_attempt_at"], unique=False
        )

    op.create_table(
        "persons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("env", sa.String(length=4), nullable=False),
        sa.Column("identity_number", sa.String(length=11), nullable=False),
        sa.Column("first_name", sa.String(length=200), nullable=False),
        sa.Column("last_name", sa.String(length=200), nullable=False),
        sa.Column("consent_vaccination", sa.Boolean(), nullable=False),
        sa.Column("consent_immunity", sa.Boolean(), nullable=False),
        sa.Column("consent_test", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
        sa.UniqueConstraint("env", "identity_number", name="uq_persons_env_identity_number"),
    )
    op.create_table(
        "audit_subjects",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("subject_ref", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["audit_events.id"], name=op.f("fk_audit_subjects_event_id_audit_events")
        ),
        sa.PrimaryKeyConstraint("event_id", "subject_ref", name=op.f("pk_audit_subjects")),
    )
    with op.batch_alter_table("audit_subjects", schema=None) as batch_op:
        batch_op.create_index("ix_audit_subjects_ref", ["subject_ref"], unique=False)

    op.create_table(
        "hes_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("env", sa.String(length=4), nullable=False),
        sa.Column("code", sa.String(length=10), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_hes_codes_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hes_codes")),
        sa.UniqueConstraint("env", "code", name="uq_hes_codes_env_code"),
    )
    with op.batch_alter_table("hes_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hes_codes_person_id"), ["person_id"], unique=False)

    op.create_table(
        "infections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("diagnosed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_infections_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_infections")),
    )
    with op.batch_alter_table("infections", schema=None) as batch_op:
        batch_op.create_index("ix_infections_person", ["person_id", "diagnosed_at"], unique=False)

    op.create_table(
        "pcr_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("sampled_at", sa.DateTime(), nullable=False),
        sa.Column("result", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_pcr_results_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pcr_results")),
    )
    with op.batch_alter_table("pcr_results", schema=None) as batch_op:
        batch_op.create_index(
            "ix_pcr_results_person", ["person_id", "result", "sampled_at"], unique=False
        )

    op.create_table(
        "risk_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_risk_periods_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_periods")),
    )
    with op.batch_alter_table("risk_periods", schema=None) as batch_op:
        batch_op.create_index("ix_risk_periods_person", ["person_id", "started_at"], unique=False)

    op.create_table(
        "service_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("env", sa.String(length=4), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("province_code", sa.SmallInteger(), nullable=True),
        sa.Column("district_code", sa.Integer(), nullable=True),
        sa.Column("ip_allowlist", sa.Text(), nullable=True),
        sa.Column("rate_limit", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name=op.f("fk_service_users_institution_id_institutions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_users")),
        sa.UniqueConstraint("env", "username", name="uq_service_users_env_username"),
    )
    op.create_table(
        "vaccinations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("dose_number", sa.SmallInteger(), nullable=False),
        sa.Column("vaccine", sa.String(length=100), nullable=False),
        sa.Column("administered_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_vaccinations_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vaccinations")),
    )
    with op.batch_alter_table("vaccinations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_vaccinations_person", ["person_id", "administered_at"], unique=False
        )

    op.create_table(
        "user_rights",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["service_users.id"],
            name=op.f("fk_user_rights_user_id_service_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "method", name=op.f("pk_user_rights")),
    )


def downgrade() -> None:
    op.drop_table("user_rights")
    with op.batch_alter_table("vaccinations", schema=None) as batch_op:
        batch_op.drop_index("ix_vaccinations_person")

    op.drop_table("vaccinations")
    op.drop_table("service_users")
    with op.batch_alter_table("risk_periods", schema=None) as batch_op:
        batch_op.drop_index("ix_risk_periods_person")

    op.drop_table("risk_periods")
    with op.batch_alter_table("pcr_results", schema=None) as batch_op:
        batch_op.drop_index("ix_pcr_results_person")

    op.drop_table("pcr_results")
    with op.batch_alter_table("infections", schema=None) as batch_op:
        batch_op.drop_index("ix_infections_person")

    op.drop_table("infections")
    with op.batch_alter_table("hes_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hes_codes_person_id"))

    op.drop_table("hes_codes")
    with op.batch_alter_table("audit_subjects", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_subjects_ref")

    op.drop_table("audit_subjects")
    op.drop_table("persons")
    with op.batch_alter_table("moi_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_moi_outbox_pending")

    op.drop_table("moi_outbox")
    op.drop_table("institutions")
    op.drop_table("instance_state")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_time")
        batch_op.drop_index("ix_audit_events_institution_time")

    op.drop_table("audit_events")
