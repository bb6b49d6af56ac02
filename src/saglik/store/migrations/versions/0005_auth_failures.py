"""failed authentications, and repeated refusals in one audit row

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

``auth_failures`` counts wrong passwords per username and per client address, shared by every
worker, so guessing is slowed by an exponential lock (``domain/throttle.py``). ``audit_events``
gains ``repeats``: refusals of callers who never proved who they are are folded into one row per
client address, method, outcome and minute instead of one row per request.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_failures",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure_at", sa.DateTime(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_auth_failures"),
    )
    op.add_column(
        "audit_events",
        sa.Column("repeats", sa.Integer, nullable=False, server_default=sa.text("1")),
    )


def downgrade() -> None:
    op.drop_column("audit_events", "repeats")  # in place: SQLite >= 3.35 drops a column
    op.drop_table("auth_failures")
