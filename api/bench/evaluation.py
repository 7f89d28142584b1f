"""Scoring the assistant (and the retriever) on a question set (``renkei eval``; the format: ``question_sets``)."""

from __future__ import annotations

import re
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from api.bench.harness import percentile, set_assistants
from api.bench.question_sets import EvalSet, Question, load_questions
from assistant.schemas import ChatAnswer, ChatRequest
from assistant.service import Assistant
from knowledge.base import KnowledgeBase
from knowledge.config import Settings
from knowledge.retriever import hybrid_search
from knowledge.text import compact

MAX_ANSWER_CHARS = 600
READ_BUDGET_CHARS = 1000
CITATION_MARK = re.compile(r"\[(\d+)\]")


def matches_group(text: str, group: list[str]) -> bool:
    haystack = compact(text)
    return any(compact(alternative) in haystack for alternative in group)


def citations_valid(answer: ChatAnswer, kb: KnowledgeBase) -> tuple[bool, str]:
    marks = {int(m) for m in CITATION_MARK.findall(answer.answer)}
    numbers = {c.n for c in answer.citations}
    if marks != numbers:
        return False, f"markers {sorted(marks)} but citations {sorted(numbers)}"
    for citation in answer.citations:
        document = kb.document(citation.document_id)
        if document is None or document.text[citation.start : citation.end] != citation.snippet:
            return False, f"citation [{citation.n}] is not an exact passage of {citation.document_id}"
    return True, ""


@dataclass
class QuestionResult:
    id: str
    kind: str
    persona: str
    passed: bool
    citations_valid: bool
    answer: str
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0
    chars: int = 0
    refused: bool = False


def score_answer(q: Question, answer: ChatAnswer, kb: KnowledgeBase) -> tuple[bool, bool, list[str]]:
    reasons: list[str] = []
    for group in q.must:
        if not matches_group(answer.answer, group):
            reasons.append(f"missing one of {group}")
    for forbidden in q.must_not:
        if compact(forbidden) in compact(answer.answer):
            reasons.append(f"contains forbidden {forbidden!r}")
    valid, why = citations_valid(answer, kb)
    if not valid:
        reasons.append(why)
    if q.kind == "none":
        if answer.grounded or answer.citations:
            reasons.append("answered a question the documents do not cover")
    elif not answer.citations:
        reasons.append("no citation")
    if q.source and not any(q.source in c.snippet or q.source in c.section for c in answer.citations):
        reasons.append(f"no citation holds the source phrase {q.source!r}")
    if len(answer.answer) > MAX_ANSWER_CHARS:
        reasons.append(f"answer too long ({len(answer.answer)} chars)")
    return not reasons, valid, reasons


def evaluate_answers(assistant: Assistant, questions: list[Question]) -> dict[str, Any]:
    results: list[QuestionResult] = []
    assistant.kb.embeddings.embed_query("準備")  # load the model first: latency is per answer, not start-up
    for q in questions:
        started = time.perf_counter()
        answer = assistant.answer(ChatRequest(message=q.question, ward=q.ward, as_of=q.as_of))
        seconds = time.perf_counter() - started
        passed, valid, reasons = score_answer(q, answer, assistant.kb)
        refused = not answer.grounded or not answer.citations
        results.append(
            QuestionResult(
                q.id,
                q.kind,
                q.persona,
                passed,
                valid,
                answer.answer,
                reasons,
                round(seconds, 4),
                len(answer.answer),
                refused,
            )
        )
    return summarise(results)


def _rate(items: list[QuestionResult]) -> float:
    return round(sum(r.passed for r in items) / len(items), 4) if items else 0.0


def _share(items: list[QuestionResult], test: Callable[[QuestionResult], bool]) -> float | None:
    return round(sum(1 for r in items if test(r)) / len(items), 4) if items else None


def summarise(results: list[QuestionResult]) -> dict[str, Any]:
    by_kind: dict[str, list[QuestionResult]] = defaultdict(list)
    by_persona: dict[str, list[QuestionResult]] = defaultdict(list)
    for r in results:
        by_kind[r.kind].append(r)
        by_persona[r.persona].append(r)
    latencies = sorted(r.seconds for r in results)
    refusals = by_kind.get("none", [])
    return {
        "questions": len(results),
        "pass_rate": _rate(results),
        "passed": sum(r.passed for r in results),
        "citation_validity": round(sum(r.citations_valid for r in results) / len(results), 4) if results else 0.0,
        "refusal_rate": _rate(refusals) if refusals else None,
        # both sides of refusing: unanswerable questions refused (want ≥ 0.95), answerable ones refused (want ≤ 0.05)
        "unanswerable_refused": _share(refusals, lambda r: r.refused),
        "answerable_refused": _share([r for r in results if r.kind != "none"], lambda r: r.refused),
        "by_kind": {kind: _rate(items) for kind, items in sorted(by_kind.items())},
        "by_persona": {persona: _rate(items) for persona, items in sorted(by_persona.items())},
        "answer_chars_mean": round(statistics.mean(r.chars for r in results), 1) if results else 0,
        "latency_p50_ms": round(1000 * percentile(latencies, 0.5), 1),
        "latency_p95_ms": round(1000 * percentile(latencies, 0.95), 1),
        "failures": [asdict(r) for r in results if not r.passed],
        "results": [asdict(r) for r in results],
    }


# --- retrieval ---------------------------------------------------------------------------------
def expected_hit(q: Question, text: str) -> bool:
    if q.source:
        return compact(q.source) in compact(text)
    return all(matches_group(text, group) for group in q.must)


def evaluate_retrieval(kb: KnowledgeBase, questions: list[Question], k: int = 5) -> dict[str, Any]:
    """recall@1/3/5 and MRR per mode, plus the chunk-size-independent 1,000-character read test."""
    scored = [q for q in questions if q.kind in ("rag", "record")]
    report: dict[str, Any] = {"questions": len(scored)}
    for mode in ("dense", "lexical", "hybrid"):
        ranks: list[int | None] = []
        read_hits = 0
        latencies: list[float] = []
        for q in scored:
            started = time.perf_counter()
            results = hybrid_search(kb, q.question, k=max(k, 10), mode=mode)
            latencies.append(time.perf_counter() - started)
            texts = [r.chunk.text for r in results]
            ranks.append(next((i + 1 for i, t in enumerate(texts) if expected_hit(q, t)), None))
            read = "".join(texts)[:READ_BUDGET_CHARS]
            read_hits += all(matches_group(read, group) for group in q.must)
        n = len(scored) or 1
        report[mode] = {
            "recall@1": round(sum(1 for r in ranks if r and r <= 1) / n, 4),
            "recall@3": round(sum(1 for r in ranks if r and r <= 3) / n, 4),
            "recall@5": round(sum(1 for r in ranks if r and r <= 5) / n, 4),
            "mrr": round(sum(1 / r for r in ranks if r) / n, 4),
            "read_1000_chars": f"{read_hits}/{len(scored)}",
            "p95_ms": round(1000 * percentile(sorted(latencies), 0.95), 1),
            "misses": [q.id for q, r in zip(scored, ranks, strict=True) if not r or r > 5],
        }
    return report


# --- suites: several question sets, each over its own corpus ----------------------------------------
def evaluate_suite(
    sets: list[EvalSet], work_dir: Path, settings: Settings, only: Collection[str] = ()
) -> dict[str, dict[str, Any]]:
    """Answer reports per set name (of ``only``, when given), each set scored over its own corpus."""
    return {
        item.name: evaluate_answers(assistant, load_questions(item.questions))
        for item, assistant in set_assistants(sets, work_dir, settings, only or None)
    }
