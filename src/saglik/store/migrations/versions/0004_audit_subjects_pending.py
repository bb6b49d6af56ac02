"""audit subjects pending

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

The request path writes its subject references to an append-only queue; a background job moves
them into ``audit_subjects`` in large sorted batches. Each reference inserted at random into the
keyed table cost a page read and a page write at commit once the table outgrew the page cache
(benchmarks/README.md).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_subjects_pending",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("subject_ref", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["audit_events.id"],
            name=op.f("fk_audit_subjects_pending_event_id_audit_events"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_subjects_pending")),
    )


def downgrade() -> None:
    op.execute(
        "INSERT INTO audit_subjects (subject_ref, event_id) "
        "SELECT DISTINCT subject_ref, event_id FROM audit_subjects_pending p "
        "WHERE NOT EXISTS (SELECT 1 FROM audit_subjects s "
        "WHERE s.subject_ref = p.subject_ref AND s.event_id = p.event_id)"
    )
    op.drop_table("audit_subjects_pending")
