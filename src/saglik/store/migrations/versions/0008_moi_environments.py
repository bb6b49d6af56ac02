"""moi environments: test-environment reports kept apart from the Ministry of Interior's

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-20

A visitor check of a risky code in the test environment wrote a report that went to
``SAGLIK_MOI_ENDPOINT`` like a live one (issue 14 §4). ``moi_outbox`` gains the report's
``environment`` (each environment is sent only to its own receiver) and ``withheld_at`` (a report
recorded but never to be sent: a test report with no test receiver). The pending index leads
with the environment.

Upgrade: every report already in the outbox takes the environment its payload names (payloads
are compact JSON, ``"environment":"test"``), so a test report still waiting is never sent to the
live receiver after the upgrade. Downgrade: the test reports not delivered are marked delivered
(at the time they were withheld, else recorded) with ``last_error`` saying they were not sent,
because the older version sends every undelivered report to ``SAGLIK_MOI_ENDPOINT``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_outbox = sa.table(
    "moi_outbox",
    sa.column("environment", sa.String),
    sa.column("payload", sa.Text),
    sa.column("delivered_at", sa.DateTime),
    sa.column("withheld_at", sa.DateTime),
    sa.column("created_at", sa.DateTime),
    sa.column("last_error", sa.String),
)
_NAMES_TEST = sa.or_(
    _outbox.c.payload.like('%"environment":"test"%'),
    _outbox.c.payload.like('%"environment": "test"%'),
)
"""A report whose payload names the test environment. Quotes inside a JSON string value are
escaped (a backslash before each), so only the key itself matches."""


def upgrade() -> None:
    op.add_column(
        "moi_outbox",
        sa.Column("environment", sa.String(8), nullable=False, server_default="live"),
    )
    op.add_column("moi_outbox", sa.Column("withheld_at", sa.DateTime(), nullable=True))
    op.execute(_outbox.update().where(_NAMES_TEST).values(environment="test"))
    op.drop_index("ix_moi_outbox_pending", table_name="moi_outbox")
    op.create_index(
        "ix_moi_outbox_pending",
        "moi_outbox",
        ["environment", "delivered_at", "withheld_at", "next_attempt_at"],
    )
    op.create_index("ix_moi_outbox_created", "moi_outbox", ["created_at"])


def downgrade() -> None:
    op.execute(
        _outbox.update()
        .where(_outbox.c.environment == "test", _outbox.c.delivered_at.is_(None))
        .values(
            delivered_at=sa.func.coalesce(_outbox.c.withheld_at, _outbox.c.created_at),
            last_error="test report: not sent",
        )
    )
    op.drop_index("ix_moi_outbox_created", table_name="moi_outbox")
    op.drop_index("ix_moi_outbox_pending", table_name="moi_outbox")
    op.create_index("ix_moi_outbox_pending", "moi_outbox", ["delivered_at", "next_attempt_at"])
    op.drop_column("moi_outbox", "withheld_at")  # in place: SQLite >= 3.35 drops a column
    op.drop_column("moi_outbox", "environment")
