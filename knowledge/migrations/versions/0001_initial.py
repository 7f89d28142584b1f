"""Initial records schema; seeds the 24 wards of Osaka City.

Revision ID: 0001_initial
Revises:
Create Date: 2024-01-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copy of records.reference.OSAKA_WARDS (a migration must not change when that module does).
OSAKA_WARDS = (
    "北区", "都島区", "福島区", "此花区", "中央区", "西区", "港区", "大正区",
    "天王寺区", "浪速区", "西淀川区", "淀川区", "東淀川区", "東成区", "生野区", "旭区",
    "城東区", "鶴見区", "阿倍野区", "住之江区", "住吉区", "東住吉区", "平野区", "西成区",
)  # fmt: skip


def _provenance() -> list[sa.Column[Any]]:
    return [
        sa.Column("record_file", sa.String(500), nullable=False),
        sa.Column("document_id", sa.String(500), nullable=False),
        sa.Column("section", sa.Text(), nullable=False),
        sa.Column("quote", sa.Text(), nullable=False),
    ]


def _provenance_indexes(table: str) -> None:
    op.create_index(f"ix_{table}_record_file", table, ["record_file"])
    op.create_index(f"ix_{table}_document_id", table, ["document_id"])


def upgrade() -> None:
    op.create_table(
        "record_files",
        sa.Column("path", sa.String(500), primary_key=True),
        sa.Column("document_id", sa.String(500), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    )
    wards = op.create_table(
        "wards",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(20), nullable=False, unique=True),
    )
    op.bulk_insert(wards, [{"id": i, "name": name} for i, name in enumerate(OSAKA_WARDS, start=1)])

    op.create_table(
        "blocks",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(50), nullable=False, unique=True),
        sa.Column("fiscal_year", sa.Integer(), nullable=True),
        *_provenance(),
    )
    _provenance_indexes("blocks")
    op.create_table(
        "block_wards",
        sa.Column("block_id", sa.String(100), sa.ForeignKey("blocks.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("ward_id", sa.Integer(), sa.ForeignKey("wards.id"), primary_key=True),
        sa.Column("ordinal", sa.Integer(), nullable=False),
    )

    op.create_table(
        "events",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("part", sa.String(50), nullable=True),
        sa.Column("parent_id", sa.String(100), nullable=True),
        sa.Column("theme", sa.Text(), nullable=True),
        sa.Column("programme", sa.JSON(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=True),
        sa.Column("date", sa.Date(), nullable=True),
        sa.Column("start_time", sa.Time(), nullable=True),
        sa.Column("end_time", sa.Time(), nullable=True),
        sa.Column("recurrence", sa.String(50), nullable=True),
        sa.Column("status", sa.String(20), nullable=True),
        sa.Column("venue", sa.Text(), nullable=True),
        sa.Column("lecturer_name", sa.String(200), nullable=True),
        sa.Column("lecturer_title", sa.String(200), nullable=True),
        sa.Column("lecturer_affiliation", sa.Text(), nullable=True),
        sa.Column("audience", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        *_provenance(),
    )
    _provenance_indexes("events")
    op.create_index("ix_events_kind", "events", ["kind"])
    op.create_index("ix_events_parent_id", "events", ["parent_id"])
    op.create_index("ix_events_fiscal_year", "events", ["fiscal_year"])
    op.create_index("ix_events_date", "events", ["date"])
    op.create_table(
        "event_blocks",
        sa.Column("event_id", sa.String(100), sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("block_name", sa.String(50), primary_key=True),
        sa.Column("ordinal", sa.Integer(), nullable=False),
    )
    op.create_index("ix_event_blocks_block_name", "event_blocks", ["block_name"])
    op.create_table(
        "event_wards",
        sa.Column("event_id", sa.String(100), sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("ward_id", sa.Integer(), sa.ForeignKey("wards.id"), primary_key=True),
        sa.Column("role", sa.String(20), primary_key=True),
        sa.Column("ordinal", sa.Integer(), nullable=False),
    )
    op.create_table(
        "participant_counts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(100), sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("group", sa.String(100), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(10), nullable=False),
        sa.Column("subset_of", sa.String(100), nullable=True),
        sa.Column("quote", sa.Text(), nullable=True),
    )
    op.create_index("ix_participant_counts_event_id", "participant_counts", ["event_id"])

    op.create_table(
        "surveys",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.String(100), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=True),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column("responses", sa.Integer(), nullable=True),
        sa.Column("response_rate", sa.Float(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        *_provenance(),
    )
    _provenance_indexes("surveys")
    op.create_index("ix_surveys_event_id", "surveys", ["event_id"])
    op.create_table(
        "survey_questions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("survey_id", sa.String(100), sa.ForeignKey("surveys.id", ondelete="CASCADE"), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("quote", sa.Text(), nullable=True),
    )
    op.create_index("ix_survey_questions_survey_id", "survey_questions", ["survey_id"])
    op.create_table(
        "survey_options",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "question_id", sa.Integer(), sa.ForeignKey("survey_questions.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=True),
    )
    op.create_index("ix_survey_options_question_id", "survey_options", ["question_id"])

    op.create_table(
        "findings",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("subject", sa.String(20), nullable=False),
        sa.Column("ward_id", sa.Integer(), sa.ForeignKey("wards.id"), nullable=True),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=True),
        sa.Column("period", sa.String(100), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        *_provenance(),
    )
    _provenance_indexes("findings")
    op.create_index("ix_findings_category", "findings", ["category"])

    op.create_table(
        "onboarding_steps",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("timing", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=True),
        sa.Column("date", sa.Date(), nullable=True),
        sa.Column("event_id", sa.String(100), nullable=True),
        *_provenance(),
    )
    _provenance_indexes("onboarding_steps")

    op.create_table(
        "support_activities",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("target", sa.String(20), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("period", sa.String(100), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("wards_count", sa.Integer(), nullable=True),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        *_provenance(),
    )
    _provenance_indexes("support_activities")


def downgrade() -> None:
    for table in (
        "support_activities",
        "onboarding_steps",
        "findings",
        "survey_options",
        "survey_questions",
        "surveys",
        "participant_counts",
        "event_wards",
        "event_blocks",
        "events",
        "block_wards",
        "blocks",
        "wards",
        "record_files",
    ):
        op.drop_table(table)
