"""Record drafts: proposals extracted from documents, awaiting an admin's review.

Revision ID: 0002_drafts
Revises: 0001_initial
Create Date: 2024-06-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_drafts"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "record_drafts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
        sa.Column("document_id", sa.String(500), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("section", sa.Text(), nullable=False),
        sa.Column("span_start", sa.Integer(), nullable=False),
        sa.Column("span_end", sa.Integer(), nullable=False),
        sa.Column("quote", sa.Text(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("pattern", sa.String(40), nullable=False),
        sa.Column("accepted_values", sa.JSON(), nullable=True),
        sa.Column("record_id", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_record_drafts_document_id", "record_drafts", ["document_id"])
    op.create_index("ix_record_drafts_status", "record_drafts", ["status"])


def downgrade() -> None:
    op.drop_index("ix_record_drafts_status", table_name="record_drafts")
    op.drop_index("ix_record_drafts_document_id", table_name="record_drafts")
    op.drop_table("record_drafts")
