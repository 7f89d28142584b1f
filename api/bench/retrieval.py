"""Retrieval benchmark: grow a knowledge base with synthetic chunks and time ``hybrid_search``.

The sample report is ingested normally; synthetic documents (sample lines shuffled and recombined, one short
section per chunk) are then cut by the ingest's own chunker and written straight to Chroma (random unit
vectors: nothing is embedded), the lexical index and the catalog, so that ``chunk.text ==
document.text[start:end]`` holds as for real chunks.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from api.bench.harness import latencies_ms
from ingest.chunking import chunk_document
from knowledge.base import KnowledgeBase
from knowledge.retriever import hybrid_search
from knowledge.types import Chunk, DocumentInfo
from knowledge.vectorstore import chunk_metadata

CHUNKS_PER_DOCUMENT = 100
LINES_PER_CHUNK = 3
SYNTHETIC = "synthetic"


def synthetic_document(number: int, lines: Sequence[str], rng: random.Random) -> tuple[DocumentInfo, list[Chunk]]:
    """One synthetic document of :data:`CHUNKS_PER_DOCUMENT` sections and its chunks, one per section: each
    section is a heading and one bullet line of a few recombined sample lines (a bullet never reads as a heading),
    and ``min_chars=1`` makes every heading start a chunk."""
    document_id = f"{SYNTHETIC}/doc_{number:06d}.txt"
    sections = [
        f"【合成データ {ordinal + 1}】\n・" + "".join(rng.sample(list(lines), LINES_PER_CHUNK))
        for ordinal in range(CHUNKS_PER_DOCUMENT)
    ]
    text = "\n".join(sections) + "\n"
    chunks = [
        replace(chunk, metadata={**chunk.metadata, "doc_type": SYNTHETIC, "wards": ""})
        for chunk in chunk_document(document_id, text, min_chars=1)
    ]
    info = DocumentInfo(
        document_id=document_id,
        title=f"合成文書 {number}",
        doc_type=SYNTHETIC,
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
    missing = max(0, target_chunks - live_chunk_count(kb))
    documents = -(-missing // CHUNKS_PER_DOCUMENT)
    first = len([d for d in kb.catalog.documents() if d.doc_type == SYNTHETIC])
    text_rng, vector_rng = random.Random(seed + first), np.random.default_rng(seed + first)
    made = [synthetic_document(first + n, lines, text_rng) for n in range(documents)]
    chunks = [chunk for _, chunk_list in made for chunk in chunk_list]
    if chunks:
        vectors = unit_vectors(len(chunks), kb.vectors.dimension, vector_rng)
        metadatas = [chunk_metadata(c, c.metadata) for c in chunks]
        kb.vectors.add_vectors([c.chunk_id for c in chunks], vectors.tolist(), [c.text for c in chunks], metadatas)
        kb.lexical.write(chunks)
        kb.lexical.save()
        kb.catalog.commit(upserts=made)
    return {
        "synthetic_documents_added": documents,
        "synthetic_chunks_added": len(chunks),
        "total_chunks": live_chunk_count(kb),
        "build_seconds": round(time.perf_counter() - started, 2),
    }


def time_retrieval(kb: KnowledgeBase, queries: Sequence[str], repeat_to: int = 50, k: int = 5) -> dict[str, float]:
    return latencies_ms(lambda q: hybrid_search(kb, q, k=k), queries, repeat_to)
