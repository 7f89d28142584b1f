"""Retrieval + chat benchmark at growing knowledge-base sizes (1k, 10k, optionally 100k chunks).

One temporary data dir: the sample is ingested, then synthetic chunks are added size by size
(:mod:`api.bench.retrieval`); at each size ``hybrid_search`` and ``Assistant.answer`` are timed over the
dev questions and the process RSS is recorded. Time to first answer is measured at the first size in a fresh
Python process (imports, a new KnowledgeBase + Assistant, one answer).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from api.bench.harness import (
    assistant_over,
    bench_settings,
    embedding_setting,
    latencies_ms,
    renkei_env,
    rss_mb,
    sample_lines,
    timed,
)
from api.bench.paths import REPO_ROOT, SAMPLE_DIR
from api.bench.question_sets import Question, dev_questions
from api.bench.retrieval import grow_to, time_retrieval
from assistant.schemas import ChatRequest
from ingest.pipeline import IngestRun
from knowledge.config import Settings

DEFAULT_SIZES = (1_000, 10_000)
LARGE_SIZE = 100_000


def chat_request(q: Question, message: str | None = None) -> ChatRequest:
    return ChatRequest(message=message or q.question, ward=q.ward, as_of=q.as_of)


def run_scaling_benchmark(
    sizes: Sequence[int] = DEFAULT_SIZES,
    model: str | None = None,
    *,
    retrieval: bool = True,
    chat: bool = True,
    queries: int = 50,
    first_answer: bool = True,
) -> dict[str, Any]:
    from knowledge.base import KnowledgeBase

    questions = dev_questions()
    texts = [q.question for q in questions]
    by_text = {q.question: q for q in questions}
    lines = sample_lines()
    setting = embedding_setting(model)
    with tempfile.TemporaryDirectory(prefix="renkei-bench-scale-") as tmp:
        settings = bench_settings(Path(tmp), setting, corpus=SAMPLE_DIR)
        kb = KnowledgeBase(settings)
        sample = IngestRun(kb).run([SAMPLE_DIR])
        assistant = assistant_over(kb)
        results: list[dict[str, Any]] = []
        for index, size in enumerate(sorted(sizes)):
            entry: dict[str, Any] = {"target_chunks": size, **grow_to(kb, size, lines, seed=size)}
            if retrieval:
                entry["retrieval"] = time_retrieval(kb, texts, repeat_to=queries)
            if chat:
                entry["chat"] = latencies_ms(lambda t: assistant.answer(chat_request(by_text[t])), texts, queries)
            entry["rss_mb"] = rss_mb()
            if first_answer and index == 0:
                entry["time_to_first_answer"] = cold_first_answer(settings, questions[0])
            results.append(entry)
        return {
            "model": kb.model_name,
            "sample_chunks": sample.chunks_embedded,
            "questions": len(questions),
            "sizes": results,
            "ratios": _ratios(results),
        }


def _ratios(results: list[dict[str, Any]]) -> dict[str, float]:
    """p50 at each larger size relative to the smallest size (how latency grows with the corpus)."""
    ratios: dict[str, float] = {}
    if len(results) < 2:
        return ratios
    base = results[0]
    for entry in results[1:]:
        for kind in ("retrieval", "chat"):
            if kind in entry and kind in base and base[kind]["p50_ms"] > 0:
                key = f"{kind}_p50_{entry['target_chunks']}_over_{base['target_chunks']}"
                ratios[key] = round(entry[kind]["p50_ms"] / base[kind]["p50_ms"], 2)
    return ratios


def cold_first_answer(settings: Settings, question: Question) -> dict[str, Any]:
    """Run :func:`first_answer_main` in a new interpreter against ``settings``' data; its timings + wall time."""
    env = {
        **os.environ,
        **renkei_env(settings.storage.data_dir, settings.storage.corpus_dirs, settings.retrieval.embedding_model),
        "RENKEI_BENCH_QUESTION": question.question,
        "RENKEI_BENCH_WARD": question.ward or "",
    }
    completed, wall = timed(
        lambda: subprocess.run(
            [sys.executable, "-c", "from api.bench.chat import first_answer_main; first_answer_main()"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    )
    return {**json.loads(completed.stdout.strip().splitlines()[-1]), "process_wall_seconds": round(wall, 3)}


def first_answer_main() -> None:
    """Entry point for the fresh process: time imports, KnowledgeBase + Assistant construction, one answer."""
    started = time.perf_counter()
    from assistant.service import Assistant
    from knowledge.base import KnowledgeBase
    from knowledge.config import get_settings

    imported = time.perf_counter()
    kb = KnowledgeBase(get_settings())
    assistant: Assistant = assistant_over(kb)
    built = time.perf_counter()
    ward = os.environ.get("RENKEI_BENCH_WARD") or None
    answer = assistant.answer(ChatRequest(message=os.environ["RENKEI_BENCH_QUESTION"], ward=ward))
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "import_seconds": round(imported - started, 3),
                "construct_seconds": round(built - imported, 3),
                "first_answer_seconds": round(done - built, 3),
                "total_seconds": round(done - started, 3),
                "answered": bool(answer.answer),
            }
        )
    )
