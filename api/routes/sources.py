"""``GET /api/sources/{document_id}``: a passage of a stored document and its surroundings (catalog only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import KnowledgeDep
from api.errors import ApiError
from api.schemas import ERROR_RESPONSES, SourcePassage
from knowledge.types import Chunk, DocumentInfo

router = APIRouter(prefix="/api/sources", tags=["sources"])

CONTEXT_CHARS = 300


def check_document_id(document_id: str) -> None:
    """Ids are catalog keys (corpus-relative POSIX paths); reject anything path-like that could escape."""
    parts = document_id.split("/")
    if (
        not document_id
        or document_id.startswith(("/", "~"))
        or "\\" in document_id
        or "\x00" in document_id
        or ":" in parts[0]
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise ApiError(400, "invalid_document_id", f"文書IDが不正です。 / Invalid document id: {document_id!r}")


def _find_chunk(kb: KnowledgeDep, document_id: str, chunk_id: str) -> Chunk:
    chunk = next((c for c in kb.chunks_of(document_id) if c.chunk_id == chunk_id), None)
    if chunk is None:
        raise ApiError(
            404, "chunk_not_found", f"この文書に該当する箇所がありません。 / No chunk {chunk_id!r} in {document_id!r}."
        )
    return chunk


def _passage(document: DocumentInfo, start: int, end: int, chunk: Chunk | None) -> SourcePassage:
    text = document.text
    return SourcePassage(
        document_id=document.document_id,
        title=document.title,
        section=chunk.section if chunk else "",
        page=chunk.page if chunk else None,
        chunk_id=chunk.chunk_id if chunk else None,
        passage=text[start:end],
        before=text[max(0, start - CONTEXT_CHARS) : start],
        after=text[end : end + CONTEXT_CHARS],
        start=start,
        end=end,
    )


def _chunk_covering(kb: KnowledgeDep, document_id: str, start: int, end: int) -> Chunk | None:
    return next((c for c in kb.chunks_of(document_id) if c.start <= start and end <= c.end), None)


@router.get(
    "/{document_id:path}",
    response_model=SourcePassage,
    responses=ERROR_RESPONSES,
    summary="引用元の箇所と前後の文 / a cited passage with its surroundings",
)
def get_source(
    document_id: str,
    kb: KnowledgeDep,
    chunk: Annotated[str | None, Query(max_length=128, description="chunk id of a citation")] = None,
    start: Annotated[int | None, Query(ge=0, description="passage start offset (instead of chunk)")] = None,
    end: Annotated[int | None, Query(ge=0, description="passage end offset (instead of chunk)")] = None,
) -> SourcePassage:
    check_document_id(document_id)
    document = kb.document(document_id)
    if document is None:
        raise ApiError(404, "document_not_found", f"文書が見つかりません。 / No document {document_id!r}.")
    if chunk is not None:
        found = _find_chunk(kb, document_id, chunk)
        return _passage(document, found.start, found.end, found)
    if start is not None or end is not None:
        if start is None or end is None or not start < end <= len(document.text):
            raise ApiError(400, "invalid_range", f"start/end must satisfy 0 <= start < end <= {len(document.text)}")
        return _passage(document, start, end, _chunk_covering(kb, document_id, start, end))
    chunks = kb.chunks_of(document_id)
    first = chunks[0] if chunks else None
    return _passage(document, first.start if first else 0, first.end if first else min(len(document.text), 600), first)
