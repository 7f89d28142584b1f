"""Ingest benchmark: N near-copies of the sample report, full ingest then a no-op re-ingest.

Numbers for ``renkei bench ingest``, not for tests. Everything happens in a temporary data dir.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from api.bench.harness import bench_settings, embedding_setting, timed
from api.bench.paths import SAMPLE_REPORT
from ingest.pipeline import IngestRun
from knowledge.base import KnowledgeBase
from knowledge.embedders import HASHING

NOOP_TARGET = 0.02


def write_copies(target: Path, docs: int, source: Path = SAMPLE_REPORT) -> list[Path]:
    """``docs`` copies of ``source``, each with its copy number prefixed to the first line so contents differ."""
    target.mkdir(parents=True, exist_ok=True)
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    paths = []
    for number in range(docs):
        path = target / f"copy_{number:04d}.txt"
        path.write_text(f"【写し{number + 1}】{lines[0]}" + "".join(lines[1:]), encoding="utf-8")
        paths.append(path)
    return paths


def run_ingest_benchmark(docs: int = 200, model: str | None = None, backend: str | None = None) -> dict[str, Any]:
    """Full ingest of ``docs`` copies, then a no-op re-ingest; times exclude the model load (reported apart).

    ``raw_chunks_per_second`` is the embedding backend alone on the same chunks, for the ingest/raw ratio.
    """
    setting = embedding_setting(model)
    with tempfile.TemporaryDirectory(prefix="renkei-bench-ingest-") as tmp:
        root = Path(tmp)
        write_copies(root / "corpus", docs)
        settings = bench_settings(root, setting, backend=backend)
        kb = KnowledgeBase(settings)
        _, load_seconds = timed(lambda: kb.embeddings.embed_query("読み込み"))
        full = IngestRun(kb).run()
        noop = IngestRun(kb).run()
        full_s, noop_s = max(full.seconds, 1e-9), noop.seconds
        texts = [chunk.text for chunk in kb.chunks(sorted(kb.catalog.live_chunk_ids())).values()]
        _, raw_seconds = timed(lambda: kb.embeddings.embed_documents(texts))
        raw_s = max(raw_seconds, 1e-9)
        return {
            "model": kb.model_name,
            "backend": settings.retrieval.embedding_backend if setting != HASHING else HASHING,
            "docs": docs,
            "chunks": full.chunks_embedded,
            "model_load_seconds": round(load_seconds, 3),
            "full_seconds": round(full.seconds, 3),
            "chunks_per_second": round(full.chunks_embedded / full_s, 1),
            "raw_chunks_per_second": round(len(texts) / raw_s, 1),
            "ingest_over_raw": round((full.chunks_embedded / full_s) / (len(texts) / raw_s), 3),
            "docs_per_second": round(docs / full_s, 2),
            "noop_seconds": round(noop_s, 3),
            "noop_chunks_embedded": noop.chunks_embedded,
            "noop_ratio": round(noop_s / full_s, 4),
            "noop_target": NOOP_TARGET,
            "noop_within_target": noop_s / full_s <= NOOP_TARGET,
        }
