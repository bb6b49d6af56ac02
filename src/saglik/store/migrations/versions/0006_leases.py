"""leases: outbox rows claimed by one sender, periodic jobs held by one worker

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10

Every worker of every machine ran the outbox loop over the same rows and sent some reports twice,
and every worker refreshed the test fixtures. ``moi_outbox`` gains a lease (``leased_until``,
``lease_token``): a sender claims rows before it sends them and records the outcome only on rows
it still holds. ``job_leases`` holds one row per periodic job, claimed for one interval. Rows
already in the outbox start unleased, so whatever was due is delivered after the upgrade.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("moi_outbox", sa.Column("leased_until", sa.DateTime(), nullable=True))
    op.add_column("moi_outbox", sa.Column("lease_token", sa.String(32), nullable=True))
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("leased_until", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_job_leases"),
    )


def downgrade() -> None:
    op.drop_table("job_leases")
    op.drop_column("moi_outbox", "lease_token")  # in place: SQLite >= 3.35 drops a column
    op.drop_column("moi_outbox", "leased_until")
