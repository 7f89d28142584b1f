"""Embedding backends side by side on the same texts, in one run: torch (the reference) vs ONNX Runtime.

Numbers for a report (``renkei bench embed`` / ``renkei bench backends``), not for tests: load time, single
query latency (p50 over the dev questions), passages/s on the sample's lines, and how close each backend stays
to the torch fp32 vectors (cosine, min and mean over the sample's chunks and the dev questions) with the same
token ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from api.bench.harness import percentile, sample_lines, timed
from api.bench.paths import SAMPLE_REPORT
from api.bench.question_sets import dev_questions
from knowledge.config import Settings
from knowledge.embedding_base import PASSAGE, QUERY, WindowedEmbeddings

REFERENCE = "torch"
BACKENDS = ("torch", "onnx", "onnx-int8")


def load_backend(backend: str, model_dir: Path, settings: Settings | None = None) -> WindowedEmbeddings:
    """A fresh instance (not the process-wide one) of ``backend`` over ``model_dir``."""
    from knowledge.embeddings import E5Embeddings, quiet_openmp
    from knowledge.onnx_embeddings import OnnxEmbeddings
    from knowledge.onnx_export import INT8_FILE, ONNX_FILE

    settings = settings or Settings()
    quiet_openmp()
    if backend == "torch":
        return E5Embeddings(model_dir, batch_size=settings.retrieval.embedding_batch_size)
    onnx_file = INT8_FILE if backend == "onnx-int8" else ONNX_FILE
    return OnnxEmbeddings(
        model_dir,
        onnx_file=onnx_file,
        batch_size=settings.retrieval.embedding_batch_size,
        threads=settings.retrieval.embedding_threads,
    )


def available_backends(model_dir: Path) -> list[str]:
    from knowledge.onnx_export import INT8_FILE, onnx_dir

    return [b for b in BACKENDS if b != "onnx-int8" or (onnx_dir(model_dir) / INT8_FILE).is_file()]


def embed_on_sample(model_dir: Path, backends: Sequence[str] | None = None) -> dict[str, Any]:
    """:func:`run_embed_benchmark` on the sample report (its lines and its chunks) and the dev questions."""
    from ingest.chunking import chunk_document

    text = SAMPLE_REPORT.read_text(encoding="utf-8")
    chunks = [chunk.text for chunk in chunk_document(SAMPLE_REPORT.name, text)]
    questions = [q.question for q in dev_questions()]
    return run_embed_benchmark(sample_lines(text), chunks, questions, model_dir=model_dir, backends=backends)


def run_embed_benchmark(
    lines: Sequence[str],
    chunks: Sequence[str],
    questions: Sequence[str],
    *,
    model_dir: Path,
    backends: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Each backend on ``lines`` (throughput), ``questions`` (query latency) and ``chunks`` + ``questions`` (cosine)."""
    if not lines or not chunks or not questions:
        raise ValueError("run_embed_benchmark needs lines, chunks and questions")
    backends = list(backends or available_backends(model_dir))
    if REFERENCE not in backends:
        backends.insert(0, REFERENCE)
    results: dict[str, dict[str, Any]] = {}
    reference: dict[str, Any] = {}
    for backend in sorted(backends, key=lambda b: b != REFERENCE):  # the reference first
        model, load_s = timed(partial(load_backend, backend, model_dir))
        vectors = np.concatenate([model.encode(chunks, PASSAGE), model.encode(questions, QUERY)])
        ids = model.token_ids(chunks, PASSAGE) + model.token_ids(questions, QUERY)
        entry: dict[str, Any] = {"load_s": round(load_s, 3), **_speed(model, lines, questions)}
        if backend == REFERENCE:
            reference = {"vectors": vectors, "ids": ids}
        else:
            cosine = (vectors * reference["vectors"]).sum(axis=1)
            entry["cosine_to_torch"] = {"min": round(float(cosine.min()), 5), "mean": round(float(cosine.mean()), 5)}
            entry["token_ids_identical"] = ids == reference["ids"]
        results[backend] = entry
    return {
        "model_dir": str(model_dir),
        "lines": len(lines),
        "chunks": len(chunks),
        "questions": len(questions),
        "backends": results,
        "ratios_over_torch": {
            name: {
                "passages_per_s": round(r["passages_per_s"] / results[REFERENCE]["passages_per_s"], 2),
                "query_ms_p50": round(r["query_ms_p50"] / results[REFERENCE]["query_ms_p50"], 2),
                "load_s": round(r["load_s"] / results[REFERENCE]["load_s"], 2),
            }
            for name, r in results.items()
            if name != REFERENCE
        },
        "note": "torch load_s includes importing sentence-transformers and torch; cosine over chunks + questions",
    }


def _speed(model: WindowedEmbeddings, lines: Sequence[str], questions: Sequence[str]) -> dict[str, float]:
    model.encode(list(lines[:16]), PASSAGE)  # warm-up
    _, seconds = timed(lambda: model.encode(list(lines), PASSAGE))
    model.encode([questions[0]], QUERY)
    latencies = []
    for question in questions:
        _, s = timed(partial(model.encode, [question], QUERY))
        latencies.append(s * 1000)
    latencies.sort()
    return {
        "passages_per_s": round(len(lines) / seconds, 1),
        "query_ms_p50": round(percentile(latencies, 0.5), 2),
        "query_ms_max": round(latencies[-1], 2),
    }
