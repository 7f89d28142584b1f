"""The knowledge catalog: which documents and chunks are live, in SQL.

The catalog is the source of truth for what retrieval may return. Chroma and the lexical index may briefly
hold extra chunks (written before a catalog commit, or left by a killed ingest); they are filtered out at
query time and removed by the next ingest, so a reader never sees a half-replaced document.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from knowledge.types import Chunk, DocumentInfo


class CatalogBase(DeclarativeBase):
    pass


class CatalogDocument(CatalogBase):
    __tablename__ = "kb_documents"

    document_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    title: Mapped[str] = mapped_column(String(512))
    doc_type: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    fiscal_year: Mapped[int | None] = mapped_column(Integer)
    wards: Mapped[list[str]] = mapped_column(JSON, default=list)
    source_path: Mapped[str] = mapped_column(String(1024), default="")
    page_count: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=lambda: datetime.now(UTC))


class CatalogChunk(CatalogBase):
    __tablename__ = "kb_chunks"

    chunk_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("kb_documents.document_id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    page: Mapped[int | None] = mapped_column(Integer)
    section: Mapped[str] = mapped_column(Text, default="")


class CatalogState(CatalogBase):
    """Key/value state: the generation counter (bumped on every commit), last ingest time, model."""

    __tablename__ = "kb_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True)
class ChunkRow:
    chunk: Chunk
    document: CatalogDocument


@dataclass(frozen=True)
class DocumentSummary:
    document_id: str
    title: str
    doc_type: str
    fiscal_year: int | None
    source_path: str
    updated_at: datetime
    chunks: int
    pages: int | None  # page count (PDF); None for formats without pages


SECTION_SEPARATOR = " > "


class Catalog:
    """The catalog tables of the database opened by ``knowledge.database.open_database`` (which made them)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- reading -------------------------------------------------------------------------------
    def generation(self) -> int:
        with Session(self.engine) as session:
            value = session.get(CatalogState, "generation")
            return int(value.value) if value else 0

    def state(self, key: str) -> str | None:
        with Session(self.engine) as session:
            row = session.get(CatalogState, key)
            return row.value if row else None

    def document_hashes(self) -> dict[str, str]:
        with Session(self.engine) as session:
            return {
                doc_id: sha
                for doc_id, sha in session.execute(select(CatalogDocument.document_id, CatalogDocument.sha256))
            }

    def live_chunk_ids(self) -> set[str]:
        with Session(self.engine) as session:
            return set(session.scalars(select(CatalogChunk.chunk_id)))

    def counts(self) -> dict[str, int]:
        with Session(self.engine) as session:
            documents = session.scalar(select(func.count()).select_from(CatalogDocument)) or 0
            chunks = session.scalar(select(func.count()).select_from(CatalogChunk)) or 0
        return {"documents": documents, "chunks": chunks}

    def document_summaries(self) -> list[DocumentSummary]:
        """Every live document without its text, with its chunk count and last page (for the admin list)."""
        per_document = (
            select(CatalogChunk.document_id, func.count().label("chunks"), func.max(CatalogChunk.page).label("pages"))
            .group_by(CatalogChunk.document_id)
            .subquery()
        )
        query = (
            select(
                CatalogDocument.document_id,
                CatalogDocument.title,
                CatalogDocument.doc_type,
                CatalogDocument.fiscal_year,
                CatalogDocument.source_path,
                CatalogDocument.updated_at,
                CatalogDocument.page_count,
                per_document.c.chunks,
                per_document.c.pages,
            )
            .outerjoin(per_document, per_document.c.document_id == CatalogDocument.document_id)
            .order_by(CatalogDocument.document_id)
        )
        with Session(self.engine) as session:
            return [
                DocumentSummary(
                    document_id=row.document_id,
                    title=row.title,
                    doc_type=row.doc_type,
                    fiscal_year=row.fiscal_year,
                    source_path=row.source_path,
                    updated_at=row.updated_at,
                    chunks=row.chunks or 0,
                    pages=row.page_count or row.pages,  # documents ingested before page_count: the last chunk's page
                )
                for row in session.execute(query)
            ]

    def document(self, document_id: str) -> DocumentInfo | None:
        with Session(self.engine) as session:
            row = session.get(CatalogDocument, document_id)
            return _document_info(row) if row else None

    def documents(self) -> list[DocumentInfo]:
        with Session(self.engine) as session:
            return [_document_info(row) for row in session.scalars(select(CatalogDocument))]

    def chunks_of(self, document_id: str) -> list[Chunk]:
        with Session(self.engine) as session:
            doc = session.get(CatalogDocument, document_id)
            if doc is None:
                return []
            rows = session.scalars(
                select(CatalogChunk).where(CatalogChunk.document_id == document_id).order_by(CatalogChunk.ordinal)
            )
            return [_chunk(row, doc.text) for row in rows]

    def load_chunks(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        """Chunks (with text cut from their document) for the given ids that are live."""
        if not chunk_ids:
            return {}
        with Session(self.engine) as session:
            rows = session.execute(
                select(CatalogChunk, CatalogDocument.text)
                .join(CatalogDocument, CatalogDocument.document_id == CatalogChunk.document_id)
                .where(CatalogChunk.chunk_id.in_(list(chunk_ids)))
            )
            return {chunk.chunk_id: _chunk(chunk, text) for chunk, text in rows}

    # --- writing -------------------------------------------------------------------------------
    def commit(
        self,
        upserts: Iterable[tuple[DocumentInfo, Sequence[Chunk]]],
        deletions: Iterable[str] = (),
        state: dict[str, str] | None = None,
    ) -> int:
        """Replace documents and their chunks in ONE transaction and bump the generation."""
        with Session(self.engine) as session, session.begin():
            for document_id in deletions:
                session.execute(delete(CatalogChunk).where(CatalogChunk.document_id == document_id))
                session.execute(delete(CatalogDocument).where(CatalogDocument.document_id == document_id))
            for info, chunks in upserts:
                session.execute(delete(CatalogChunk).where(CatalogChunk.document_id == info.document_id))
                session.merge(
                    CatalogDocument(
                        document_id=info.document_id,
                        title=info.title,
                        doc_type=info.doc_type,
                        sha256=info.sha256,
                        fiscal_year=info.fiscal_year,
                        wards=list(info.wards),
                        source_path=info.source_path,
                        page_count=info.page_count,
                        text=info.text,
                        updated_at=datetime.now(UTC),
                    )
                )
                session.flush()
                session.add_all(
                    CatalogChunk(
                        chunk_id=chunk.chunk_id,
                        document_id=info.document_id,
                        ordinal=chunk.ordinal,
                        start=chunk.start,
                        end=chunk.end,
                        page=chunk.page,
                        section=SECTION_SEPARATOR.join(chunk.section_path),
                    )
                    for chunk in chunks
                )
            generation_row = session.get(CatalogState, "generation", with_for_update=True)
            generation = (int(generation_row.value) if generation_row else 0) + 1
            session.merge(CatalogState(key="generation", value=str(generation)))
            for key, value in (state or {}).items():
                session.merge(CatalogState(key=key, value=value))
        return generation

    def set_state(self, key: str, value: str) -> None:
        with Session(self.engine) as session, session.begin():
            session.merge(CatalogState(key=key, value=value))

    def clear(self) -> None:
        """Forget every document, chunk and state value (``renkei ingest --rebuild``), in one transaction."""
        with Session(self.engine) as session, session.begin():
            for model in (CatalogChunk, CatalogDocument, CatalogState):
                session.execute(delete(model))


def _document_info(row: CatalogDocument) -> DocumentInfo:
    return DocumentInfo(
        document_id=row.document_id,
        title=row.title,
        doc_type=row.doc_type,
        sha256=row.sha256,
        text=row.text,
        fiscal_year=row.fiscal_year,
        wards=tuple(row.wards or ()),
        source_path=row.source_path,
        page_count=row.page_count,
    )


def _chunk(row: CatalogChunk, document_text: str) -> Chunk:
    return Chunk(
        chunk_id=row.chunk_id,
        document_id=row.document_id,
        text=document_text[row.start : row.end],
        start=row.start,
        end=row.end,
        section_path=tuple(row.section.split(SECTION_SEPARATOR)) if row.section else (),
        page=row.page,
        ordinal=row.ordinal,
    )


def dumps_state(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)
