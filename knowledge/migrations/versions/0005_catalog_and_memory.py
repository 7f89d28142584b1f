"""The knowledge catalog (``kb_documents``, ``kb_chunks``, ``kb_state``) and the conversation memory
(``conversations``, ``conversation_turns``) come under this history.

Until now ``knowledge.catalog`` and ``assistant.memory`` made these tables with ``create_all`` when they
opened the database (the catalog also added ``kb_documents.page_count`` to tables older than that column).
A database made that way keeps its tables and rows: a table that exists is adopted, given the columns and
indexes it lacks; one that does not is created.

Revision ID: 0005_catalog_and_memory
Revises: 0004_extraction
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005_catalog_and_memory"
down_revision = "0004_extraction"
branch_labels = None
depends_on = None

# Columns added to a table after its create_all release (nullable): a table made before lacks them.
ADDED_LATER = {("kb_documents", "page_count")}


def _tables() -> list[tuple[str, list[sa.Column[Any]], list[tuple[str, str]]]]:
    """(table, columns, indexes as (name, column)), parents before children."""
    return [
        ("kb_documents", [
            sa.Column("document_id", sa.String(512), primary_key=True),
            sa.Column("title", sa.String(512), nullable=False),
            sa.Column("doc_type", sa.String(32), nullable=False),
            sa.Column("sha256", sa.String(64), nullable=False),
            sa.Column("fiscal_year", sa.Integer(), nullable=True),
            sa.Column("wards", sa.JSON(), nullable=False),
            sa.Column("source_path", sa.String(1024), nullable=False),
            sa.Column("page_count", sa.Integer(), nullable=True),
            sa.Column("text", sa.Text(), nullable=False),
            sa.Column("updated_at", sa.DateTime(), nullable=False),
        ], []),
        ("kb_chunks", [
            sa.Column("chunk_id", sa.String(64), primary_key=True),
            sa.Column(
                "document_id", sa.String(512),
                sa.ForeignKey("kb_documents.document_id", ondelete="CASCADE"), nullable=False,
            ),
            sa.Column("ordinal", sa.Integer(), nullable=False),
            sa.Column("start", sa.Integer(), nullable=False),
            sa.Column("end", sa.Integer(), nullable=False),
            sa.Column("page", sa.Integer(), nullable=True),
            sa.Column("section", sa.Text(), nullable=False),
        ], [("ix_kb_chunks_document_id", "document_id")]),
        ("kb_state", [
            sa.Column("key", sa.String(64), primary_key=True),
            sa.Column("value", sa.Text(), nullable=False),
        ], []),
        ("conversations", [
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("created_at", sa.DateTime(), nullable=False),
        ], []),
        ("conversation_turns", [
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column(
                "conversation_id", sa.String(64), sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
            ),
            sa.Column("message", sa.Text(), nullable=False),
            sa.Column("resolved", sa.Text(), nullable=False),
            sa.Column("intent", sa.String(32), nullable=False),
            sa.Column("entities", sa.Text(), nullable=False),
            sa.Column("answer", sa.Text(), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
        ], [("ix_conversation_turns_conversation_id", "conversation_id")]),
    ]  # fmt: skip


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    existing = set(inspector.get_table_names())
    for table, columns, indexes in _tables():
        if table not in existing:
            op.create_table(table, *columns)
            for name, indexed_column in indexes:
                op.create_index(name, table, [indexed_column])
            continue
        present = {column["name"] for column in inspector.get_columns(table)}
        for column in columns:
            if (table, column.name) in ADDED_LATER and column.name not in present:
                op.add_column(table, column)
        indexed = {index["name"] for index in inspector.get_indexes(table)}
        for name, indexed_column in indexes:
            if name not in indexed:
                op.create_index(name, table, [indexed_column])


def downgrade() -> None:
    for table, _columns, indexes in reversed(_tables()):
        for name, _column in indexes:
            op.drop_index(name, table_name=table)
        op.drop_table(table)
