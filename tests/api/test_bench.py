"""The benchmark's smallest configuration runs and reports the expected keys (no timing thresholds)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from api.cli.bench import app

REPO = Path(__file__).resolve().parents[2]

runner = CliRunner()


def _run(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_ingest_bench_reports_full_and_noop_times() -> None:
    report = _run("ingest", "--docs", "3", "--model", "hashing")
    assert set(report["machine"]) == {"cpu_count", "python", "platform"}
    ingest = report["ingest"]
    assert ingest["docs"] == 3 and ingest["model"] == "hashing-char-1-3gram"
    assert ingest["chunks"] > 0 and ingest["noop_chunks_embedded"] == 0
    for key in (
        "full_seconds",
        "chunks_per_second",
        "raw_chunks_per_second",
        "ingest_over_raw",
        "noop_seconds",
        "noop_ratio",
        "noop_within_target",
    ):
        assert key in ingest


def test_retrieval_bench_at_1k_reports_latency_and_memory() -> None:
    report = _run("retrieval", "--model", "hashing", "--size", "1000", "--queries", "5")
    scaling = report["scaling"]
    assert scaling["model"] == "hashing-char-1-3gram"
    (size,) = scaling["sizes"]
    assert size["target_chunks"] == 1000 and size["total_chunks"] >= 1000
    assert {"p50_ms", "p95_ms", "n"} <= set(size["retrieval"]) and size["retrieval"]["n"] >= 5
    assert size["rss_mb"] > 0
    assert size["time_to_first_answer"]["answered"] is True
    assert "chat" not in size


def test_synthetic_chunks_are_slices_of_their_document() -> None:
    import random

    from api.bench.retrieval import CHUNKS_PER_DOCUMENT, synthetic_document

    info, chunks = synthetic_document(7, [f"行{n}の文章です。" for n in range(20)], random.Random(1))
    assert len(chunks) == CHUNKS_PER_DOCUMENT
    assert all(info.text[c.start : c.end] == c.text for c in chunks)


def test_cold_bench_runs_two_checkouts_in_turns_over_one_data_dir(e5_model_dir, monkeypatch) -> None:
    """``bench cold --before`` with this checkout on both sides: every measure, for both, and their ratios."""
    monkeypatch.setenv("RENKEI_EMBEDDING_MODEL", str(e5_model_dir))
    cold = _run("cold", "--runs", "1", "--before", str(REPO))["cold"]
    measures = {
        "ask_record_s",
        "ask_passage_s",
        "ask_record_rss_mb",
        "ask_passage_rss_mb",
        "serve_healthy_s",
        "serve_model_ready_s",
        "chat_ms_p50",
        "chat_ms_max",
        "server_rss_mb",
    }
    assert set(cold["after"]) == set(cold["before"]) == measures
    assert set(cold["before_over_after"]) == measures and cold["runs"] == 1 and cold["chunks"] is None
    assert cold["after"]["ask_passage_rss_mb"] > cold["after"]["ask_record_rss_mb"]  # the model was loaded
    assert len(cold["load_average_before"]) == len(cold["load_average_after"]) == 3
