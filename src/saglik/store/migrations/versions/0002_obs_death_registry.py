"""obs death registry

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "death_forms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("env", sa.String(length=4), nullable=False),
        sa.Column("form_no", sa.String(length=20), nullable=False),
        sa.Column("referans_no", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("identity_number", sa.String(length=11), nullable=True),
        sa.Column("passport_no", sa.String(length=20), nullable=True),
        sa.Column("nationality", sa.String(length=3), nullable=False),
        sa.Column("first_name", sa.String(length=200), nullable=False),
        sa.Column("last_name", sa.String(length=200), nullable=False),
        sa.Column("father_name", sa.String(length=200), nullable=True),
        sa.Column("mother_name", sa.String(length=200), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("birth_place", sa.String(length=100), nullable=True),
        sa.Column("sex", sa.SmallInteger(), nullable=False),
        sa.Column("died_at", sa.DateTime(), nullable=False),
        sa.Column("place_of_death_type", sa.SmallInteger(), nullable=False),
        sa.Column("death_province", sa.SmallInteger(), nullable=False),
        sa.Column("death_district", sa.Integer(), nullable=True),
        sa.Column("residence_province", sa.SmallInteger(), nullable=False),
        sa.Column("residence_district", sa.Integer(), nullable=True),
        sa.Column("manner", sa.SmallInteger(), nullable=False),
        sa.Column("maternal_status", sa.SmallInteger(), nullable=True),
        sa.Column("autopsy", sa.Boolean(), nullable=True),
        sa.Column("injured_at", sa.DateTime(), nullable=True),
        sa.Column("registered_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_death_forms")),
        sa.UniqueConstraint("env", "form_no", "referans_no", name="uq_death_forms_env_form_ref"),
    )
    with op.batch_alter_table("death_forms", schema=None) as batch_op:
        batch_op.create_index("ix_death_forms_identity", ["env", "identity_number"], unique=False)
        batch_op.create_index("ix_death_forms_passport", ["env", "passport_no"], unique=False)
        batch_op.create_index("ix_death_forms_registered", ["env", "registered_at"], unique=False)

    op.create_table(
        "districts",
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("plate", sa.SmallInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_districts")),
    )
    with op.batch_alter_table("districts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_districts_plate"), ["plate"], unique=False)

    op.create_table(
        "death_causes",
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.SmallInteger(), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("icd_code", sa.String(length=8), nullable=False),
        sa.Column("interval", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["form_id"],
            ["death_forms.id"],
            name=op.f("fk_death_causes_form_id_death_forms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("form_id", "seq", name=op.f("pk_death_causes")),
    )
    op.create_table(
        "death_form_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("env", sa.String(length=4), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("changes", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["form_id"],
            ["death_forms.id"],
            name=op.f("fk_death_form_history_form_id_death_forms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_death_form_history")),
    )
    with op.batch_alter_table("death_form_history", schema=None) as batch_op:
        batch_op.create_index("ix_death_form_history_day", ["env", "at"], unique=False)
        batch_op.create_index("ix_death_form_history_form", ["form_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("death_form_history", schema=None) as batch_op:
        batch_op.drop_index("ix_death_form_history_form")
        batch_op.drop_index("ix_death_form_history_day")

    op.drop_table("death_form_history")
    op.drop_table("death_causes")
    with op.batch_alter_table("districts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_districts_plate"))

    op.drop_table("districts")
    with op.batch_alter_table("death_forms", schema=None) as batch_op:
        batch_op.drop_index("ix_death_forms_registered")
        batch_op.drop_index("ix_death_forms_passport")
        batch_op.drop_index("ix_death_forms_identity")

    op.drop_table("death_forms")
