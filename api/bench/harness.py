"""What the benchmarks, the evaluation and the fit share.

* Knowledge bases in a data dir of their own: :func:`confined_settings` is the one place that points settings at
  a data dir and its corpora with local stores (SQLite and embedded Chroma in that dir, whatever the environment
  says), :func:`suite_assistant` ingests a corpus there and :func:`set_assistants` gives each question set of a
  suite an assistant over its corpus, one per corpus.
* Timing: :func:`timed`, one percentile definition (:func:`percentile`, nearest rank) and the latency summary
  every benchmark reports (:func:`summarise_ms`).
* The JSON report's envelope (:func:`report`: the machine, then the sections) and the environment of a fresh
  ``renkei`` process over a data dir (:func:`renkei_env`).

Heavy imports (the assistant, the ingest pipeline, the model) happen inside the functions that need them, so
the command line stays light.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from api.bench.paths import SAMPLE_REPORT
from knowledge.config import RetrievalSettings, Settings, StorageSettings

if TYPE_CHECKING:
    from api.bench.question_sets import EvalSet
    from assistant.service import Assistant
    from knowledge.base import KnowledgeBase

T = TypeVar("T")


# --- the report --------------------------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def report(sections: dict[str, Any]) -> dict[str, Any]:
    """A benchmark report: the machine it ran on, then its sections."""
    return {"machine": machine_info(), **sections}


# --- timing ------------------------------------------------------------------------------------------------
def timed(call: Callable[[], T]) -> tuple[T, float]:
    """``call()``'s value and the seconds it took."""
    started = time.perf_counter()
    value = call()
    return value, time.perf_counter() - started


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (0 for none): the smallest value with at least
    ``fraction`` of the values at or below it."""
    if not sorted_values:
        return 0.0
    rank = min(len(sorted_values), max(1, math.ceil(fraction * len(sorted_values))))
    return sorted_values[rank - 1]


def summarise_ms(timings: Sequence[float]) -> dict[str, float]:
    """Count, p50, p95 and max of timings in milliseconds."""
    ordered = sorted(timings)
    return {
        "n": len(ordered),
        "p50_ms": round(percentile(ordered, 0.50), 2),
        "p95_ms": round(percentile(ordered, 0.95), 2),
        "max_ms": round(ordered[-1] if ordered else 0.0, 2),
    }


def latencies_ms(call: Callable[[str], object], queries: Sequence[str], repeat_to: int) -> dict[str, float]:
    """Call once per query (cycling until ``repeat_to`` calls) after one warm-up; :func:`summarise_ms`."""
    call(queries[0])
    timings = []
    for n in range(max(repeat_to, len(queries))):
        started = time.perf_counter()
        call(queries[n % len(queries)])
        timings.append((time.perf_counter() - started) * 1000)
    return summarise_ms(timings)


def rss_mb() -> float:
    import psutil

    return round(psutil.Process().memory_info().rss / 1e6, 1)


# --- the sample ------------------------------------------------------------------------------------------
def sample_lines(text: str | None = None) -> list[str]:
    """The lines of ``text`` (default: the sample report) of at least 8 characters, stripped: the passages the
    benchmarks embed and recombine into synthetic chunks."""
    if text is None:
        text = SAMPLE_REPORT.read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if len(line.strip()) >= 8]


# --- settings and knowledge bases of their own ------------------------------------------------------------
def embedding_setting(model: str | None) -> str | None:
    """``"hashing"`` stays as is; otherwise the real model's directory (built once under ./var if missing)."""
    from knowledge.embedders import HASHING

    if model == HASHING:
        return HASHING
    if model:
        return model
    from knowledge.embeddings import resolve_model_dir

    return str(resolve_model_dir(Settings()))


def confined_settings(base: Settings, data_dir: Path, corpus: Sequence[Path]) -> Settings:
    """``base`` with its storage local to ``data_dir`` over ``corpus`` (SQLite and embedded Chroma there), so that
    a measurement never writes to a configured database or Chroma server."""
    return base.model_copy(update={"storage": StorageSettings.local(data_dir, list(corpus))})


def bench_settings(root: Path, model: str | None, corpus: Path | None = None, backend: str | None = None) -> Settings:
    """Settings confined to ``root`` (a temporary directory); ``model`` as from :func:`embedding_setting`."""
    chosen: dict[str, Any] = {"embedding_backend": backend} if backend else {}  # the settings validate the name
    return Settings(
        storage=StorageSettings.local(root / "data", [corpus or root / "corpus"]),
        retrieval=RetrievalSettings(embedding_model=model, **chosen),
    )


def assistant_over(kb: KnowledgeBase) -> Assistant:
    """An assistant over ``kb``, its records and conversations in ``kb``'s database (through its engine)."""
    from assistant.service import Assistant

    return Assistant(kb, kb.engine, kb.settings)


def suite_assistant(corpus: list[Path], work_dir: Path, settings: Settings) -> Assistant:
    """An assistant over ``corpus`` with its own data dir under ``work_dir`` (kept between runs: a second run
    re-ingests only what changed)."""
    from ingest.pipeline import IngestRun
    from knowledge.base import KnowledgeBase

    key = hashlib.sha256("\n".join(str(path) for path in corpus).encode()).hexdigest()[:12]
    kb = KnowledgeBase(confined_settings(settings, work_dir / key, corpus))
    ingested = IngestRun(kb).run(corpus)
    if ingested.failed:
        raise RuntimeError(f"ingest of {corpus} failed: {ingested.failed}")
    return assistant_over(kb)


def set_assistants(
    sets: Sequence[EvalSet], work_dir: Path, settings: Settings, only: Collection[str] | None = None
) -> Iterator[tuple[EvalSet, Assistant]]:
    """Each set of a suite (those named in ``only``, when given) with an assistant over its corpora, in the
    suite's order; sets over the same corpora share one assistant, made when first needed."""
    assistants: dict[tuple[Path, ...], Assistant] = {}
    for item in sets:
        if only is not None and item.name not in only:
            continue
        key = tuple(item.corpus)
        if key not in assistants:
            assistants[key] = suite_assistant(item.corpus, work_dir, settings)
        yield item, assistants[key]


# --- fresh processes -------------------------------------------------------------------------------------
def renkei_env(data_dir: Path, corpus: Sequence[Path], model: str | None, backend: str | None = None) -> dict[str, str]:
    """The ``RENKEI_*`` variables that make a fresh ``renkei`` process use this data dir, corpora and embedding
    model (and backend); the caller adds them to the environment it starts from."""
    env = {"RENKEI_DATA_DIR": str(data_dir), "RENKEI_CORPUS_DIRS": json.dumps([str(path) for path in corpus])}
    if model:
        env["RENKEI_EMBEDDING_MODEL"] = model
    if backend:
        env["RENKEI_EMBEDDING_BACKEND"] = backend
    return env
