"""Hybrid retrieval: dense (Chroma) and lexical (BM25) fused by reciprocal rank fusion.

The LangChain retriever over it lives in ``knowledge.langchain_retriever``: LangChain's retriever base class
imports its tracing stack (about a second on a cold start), which answering a question does not need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.documents import Document

from knowledge.base import KnowledgeBase
from knowledge.text import compact
from knowledge.types import Chunk

Mode = Literal["hybrid", "dense", "lexical"]
RRF_K = 60
# Lexical evidence counts for more than dense: on Japanese programme documents exact names, numbers and
# terms decide, and the offline e5-small ranks paraphrases well but misses them (see docs/benchmarks.md).
DENSE_WEIGHT = 0.3
LEXICAL_WEIGHT = 1.0


@dataclass
class ScoredChunk:
    chunk: Chunk
    score: float
    dense_score: float | None = None
    dense_rank: int | None = None
    lexical_score: float | None = None
    lexical_rank: int | None = None
    neighbours: list[Chunk] = field(default_factory=list)


def reciprocal_rank_fusion(
    rankings: list[list[str]], k: int = RRF_K, weights: list[float] | None = None
) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score(id) = Σ weight / (k + rank), rank starting at 1."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


def near_duplicate_key(text: str) -> str:
    return compact(text)


def hybrid_search(
    kb: KnowledgeBase,
    query: str,
    *,
    k: int = 5,
    fetch_k: int = 30,
    mode: Mode = "hybrid",
    where: dict[str, Any] | None = None,
    neighbours: int = 0,
    weights: tuple[float, float] = (DENSE_WEIGHT, LEXICAL_WEIGHT),
) -> list[ScoredChunk]:
    kb.refresh()
    dense = kb.dense_search(query, fetch_k, where) if mode in ("hybrid", "dense") else []
    lexical = kb.lexical_search(query, fetch_k, where) if mode in ("hybrid", "lexical") else []
    fused = reciprocal_rank_fusion([[cid for cid, _ in dense], [cid for cid, _ in lexical]], weights=list(weights))
    dense_by_id = {cid: (rank, score) for rank, (cid, score) in enumerate(dense, start=1)}
    lexical_by_id = {cid: (rank, score) for rank, (cid, score) in enumerate(lexical, start=1)}
    chunks = kb.chunks([cid for cid, _ in fused[: k * 3]])
    results: list[ScoredChunk] = []
    seen: set[str] = set()
    for chunk_id, score in fused:
        chunk = chunks.get(chunk_id)
        if chunk is None:
            continue
        key = near_duplicate_key(chunk.text)
        if key in seen:  # the same passage under two names: keep the better-ranked one
            continue
        seen.add(key)
        dense_rank, dense_score = dense_by_id.get(chunk_id, (None, None))
        lexical_rank, lexical_score = lexical_by_id.get(chunk_id, (None, None))
        results.append(ScoredChunk(chunk, score, dense_score, dense_rank, lexical_score, lexical_rank))
        if len(results) == k:
            break
    if neighbours:
        for item in results:
            item.neighbours = _neighbours(kb, item.chunk, neighbours)
    return results


def search_within(kb: KnowledgeBase, query: str, document_ids: list[str], *, k: int = 5) -> list[ScoredChunk]:
    """The best ``k`` passages of these documents only. Each document is searched on its own, so a passage is
    ranked against its document's others (a question about one town's report reaches the report's last
    sections, which a search over every document ranks behind other towns' passages), and the fused scores
    are merged."""
    found = [
        item
        for document_id in document_ids
        for item in hybrid_search(kb, query, k=k, where={"document_id": document_id})
    ]
    return sorted(found, key=lambda item: -item.score)[:k]


def _neighbours(kb: KnowledgeBase, chunk: Chunk, radius: int) -> list[Chunk]:
    siblings = kb.chunks_of(chunk.document_id)
    return [
        other
        for other in siblings
        if other.chunk_id != chunk.chunk_id
        and abs(other.ordinal - chunk.ordinal) <= radius
        and other.section_path[:1] == chunk.section_path[:1]
    ]


def to_document(item: ScoredChunk) -> Document:
    chunk = item.chunk
    return Document(
        id=chunk.chunk_id,
        page_content=chunk.text,
        metadata={
            "chunk_id": chunk.chunk_id,
            "document_id": chunk.document_id,
            "section": chunk.section,
            "page": chunk.page,
            "start": chunk.start,
            "end": chunk.end,
            "score": item.score,
            "dense_score": item.dense_score,
            "dense_rank": item.dense_rank,
            "lexical_score": item.lexical_score,
            "lexical_rank": item.lexical_rank,
            "neighbours": [n.chunk_id for n in item.neighbours],
        },
    )
