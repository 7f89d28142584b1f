"""Events carry the municipality or ward they belong to (``area``), for records accepted from other
towns' reports.

Revision ID: 0004_extraction
Revises: 0003_feedback
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_extraction"
down_revision = "0003_feedback"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("area", sa.String(100), nullable=True))
    op.create_index("ix_events_area", "events", ["area"])


def downgrade() -> None:
    op.drop_index("ix_events_area", table_name="events")
    op.drop_column("events", "area")
