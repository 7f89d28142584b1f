"""Numbered citations whose snippets are exact substrings of the stored documents."""

from __future__ import annotations

from assistant.schemas import Citation
from knowledge.base import KnowledgeBase
from knowledge.text import compact, nfkc
from knowledge.types import Chunk


def locate(quote: str, text: str) -> tuple[int, int] | None:
    """Where ``quote`` stands in ``text``: exactly, or ignoring whitespace and NFKC differences
    (record quotes are transcribed from the raw file; the stored text has PDF line breaks mended)."""
    position = text.find(quote)
    if position >= 0:
        return position, position + len(quote)
    target = compact(quote)
    if not target:
        return None
    chars: list[str] = []
    origin: list[int] = []
    for index, ch in enumerate(text):
        if ch.isspace():
            continue
        for normalised in nfkc(ch):
            chars.append(normalised)
            origin.append(index)
    found = "".join(chars).find(target)
    if found < 0:
        return None
    return origin[found], origin[found + len(target) - 1] + 1


class Citations:
    """Collects citations for one answer; the same span cited twice keeps one number."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.items: list[Citation] = []
        self._numbers: dict[tuple[str, int, int], int] = {}

    def cite(self, chunk: Chunk, start: int, end: int, score: float) -> int:
        key = (chunk.document_id, start, end)
        if key in self._numbers:
            return self._numbers[key]
        document = self.kb.document(chunk.document_id)
        if document is None:
            raise LookupError(f"document {chunk.document_id!r} is not in the catalog")
        n = len(self.items) + 1
        self.items.append(
            Citation(
                n=n,
                document_id=chunk.document_id,
                title=document.title,
                section=chunk.section,
                page=chunk.page,
                snippet=document.text[start:end],
                score=round(score, 4),
                chunk_id=chunk.chunk_id,
                start=start,
                end=end,
            )
        )
        self._numbers[key] = n
        return n

    def cite_quote(self, document_id: str, quote: str, score: float = 1.0) -> int | None:
        """Cite a record's source quote; None when the document no longer holds it."""
        document = self.kb.document(document_id)
        if document is None or not quote:
            return None
        span = locate(quote, document.text)
        if span is None:
            return None
        chunks = self.kb.chunks_of(document_id)
        holder = next((c for c in chunks if c.start <= span[0] < c.end), None)
        if holder is None:
            return None
        return self.cite(holder, span[0], span[1], score)
