"""Retrieval benchmark: grow a knowledge base with synthetic chunks and time ``hybrid_search``.

The sample report is ingested normally; synthetic chunks (sample lines shuffled and recombined) are then
written straight to Chroma (random unit vectors), the lexical index and the catalog, 100 chunks per
synthetic document, so that ``chunk.text == document.text[start:end]`` holds as for real chunks.
"""

from __future__ import annotations

import hashlib
import random
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import psutil

from knowledge.base import KnowledgeBase
from knowledge.retriever import hybrid_search
from knowledge.types import Chunk, DocumentInfo
from knowledge.vectorstore import chunk_metadata

CHUNKS_PER_DOCUMENT = 100
LINES_PER_CHUNK = 3
SYNTHETIC_SECTION = ("合成データ",)


def sample_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if len(line.strip()) >= 8]


def synthetic_document(number: int, lines: Sequence[str], rng: random.Random) -> tuple[DocumentInfo, list[Chunk]]:
    """One synthetic document of :data:`CHUNKS_PER_DOCUMENT` chunks, each a few recombined sample lines."""
    document_id = f"synthetic/doc_{number:06d}.txt"
    pieces = ["".join(rng.sample(list(lines), LINES_PER_CHUNK)) for _ in range(CHUNKS_PER_DOCUMENT)]
    text, chunks, offset = "", [], 0
    for ordinal, piece in enumerate(pieces):
        start, end = offset, offset + len(piece)
        chunks.append(
            Chunk(
                chunk_id=f"syn-{number:06d}-{ordinal:03d}",
                document_id=document_id,
                text=piece,
                start=start,
                end=end,
                section_path=SYNTHETIC_SECTION,
                ordinal=ordinal,
            )
        )
        text += piece + "\n"
        offset = end + 1
    info = DocumentInfo(
        document_id=document_id,
        title=f"合成文書 {number}",
        doc_type="synthetic",
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        text=text,
    )
    return info, chunks


def unit_vectors(count: int, dimension: int, rng: np.random.Generator) -> np.ndarray:
    vectors = rng.standard_normal((count, dimension)).astype(np.float32)
    units: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return units


def live_chunk_count(kb: KnowledgeBase) -> int:
    kb.refresh(force=True)
    return len(kb.live_chunk_ids)


def grow_to(kb: KnowledgeBase, target_chunks: int, lines: Sequence[str], seed: int = 0) -> dict[str, Any]:
    """Add synthetic documents until the catalog lists at least ``target_chunks`` chunks; returns what was added."""
    started = time.perf_counter()
    current = live_chunk_count(kb)
    missing = max(0, target_chunks - current)
    documents = -(-missing // CHUNKS_PER_DOCUMENT)
    first = len([d for d in kb.catalog.documents() if d.doc_type == "synthetic"])
    text_rng, vector_rng = random.Random(seed + first), np.random.default_rng(seed + first)
    made = [synthetic_document(first + n, lines, text_rng) for n in range(documents)]
    chunks = [chunk for _, chunk_list in made for chunk in chunk_list]
    if chunks:
        metadatas = [chunk_metadata(c, {"doc_type": "synthetic", "section": c.section, "wards": ""}) for c in chunks]
        vectors = unit_vectors(len(chunks), kb.vectors.dimension, vector_rng)
        kb.vectors.add_vectors([c.chunk_id for c in chunks], vectors.tolist(), [c.text for c in chunks], metadatas)
        lexical = kb.lexical
        lexical.upsert((c.chunk_id, c.text, m) for c, m in zip(chunks, metadatas, strict=True))
        lexical.save(kb.settings.storage.lexical_dir)
        kb.catalog.commit(upserts=made)
    return {
        "synthetic_documents_added": documents,
        "synthetic_chunks_added": len(chunks),
        "total_chunks": live_chunk_count(kb),
        "build_seconds": round(time.perf_counter() - started, 2),
    }


def latencies_ms(call: Callable[[str], object], queries: Sequence[str], repeat_to: int) -> dict[str, float]:
    """Call once per query (cycling until ``repeat_to`` calls) after one warm-up; p50/p95/max in ms."""
    call(queries[0])
    timings = []
    for n in range(max(repeat_to, len(queries))):
        started = time.perf_counter()
        call(queries[n % len(queries)])
        timings.append((time.perf_counter() - started) * 1000)
    return summarise_ms(timings)


def summarise_ms(timings: Sequence[float]) -> dict[str, float]:
    ordered = sorted(timings)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 2),
        "max_ms": round(ordered[-1], 2),
    }


def time_retrieval(kb: KnowledgeBase, queries: Sequence[str], repeat_to: int = 50, k: int = 5) -> dict[str, float]:
    return latencies_ms(lambda q: hybrid_search(kb, q, k=k), queries, repeat_to)


def rss_mb() -> float:
    return round(psutil.Process().memory_info().rss / 1e6, 1)
