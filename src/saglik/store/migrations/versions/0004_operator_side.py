"""operator side: API tokens, change log, natural keys of health events

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

Bulk imports upsert health events by their natural key (a person's dose number; the time of an
infection, of a PCR sample; the kind and start of a risk period), so those keys become unique.
Rows that already repeat a key are merged first, keeping the latest written (highest id).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

NATURAL_KEYS = {
    "vaccinations": ("uq_vaccinations_natural", ["person_id", "dose_number"]),
    "infections": ("uq_infections_natural", ["person_id", "diagnosed_at"]),
    "pcr_results": ("uq_pcr_results_natural", ["person_id", "sampled_at"]),
    "risk_periods": ("uq_risk_periods_natural", ["person_id", "kind", "started_at"]),
}


def upgrade() -> None:
    for table, (name, columns) in NATURAL_KEYS.items():
        key = ", ".join(columns)
        op.execute(
            f"DELETE FROM {table} WHERE id NOT IN (SELECT max(id) FROM {table} GROUP BY {key})"  # noqa: S608 (names are constants)
        )
        with op.batch_alter_table(table) as batch_op:
            batch_op.create_unique_constraint(name, columns)

    op.create_table(
        "operator_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_operator_tokens_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_operator_tokens_token_hash")),
    )
    op.create_table(
        "operator_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("env", sa.String(length=4), nullable=True),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("subject_ref", sa.String(length=64), nullable=True),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_changes")),
    )
    with op.batch_alter_table("operator_changes") as batch_op:
        batch_op.create_index("ix_operator_changes_time", ["occurred_at"], unique=False)
        batch_op.create_index("ix_operator_changes_subject", ["subject_ref"], unique=False)


def downgrade() -> None:
    op.drop_table("operator_changes")
    op.drop_table("operator_tokens")
    for table, (name, _columns) in NATURAL_KEYS.items():
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(name, type_="unique")
