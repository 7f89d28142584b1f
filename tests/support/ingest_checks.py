"""Checks of an ingest run that the ingest tests run on a local Chroma and SQLite
(tests/ingest/test_ingest_pipeline.py) and the scale-out tests again on a Chroma server and PostgreSQL
(tests/api/test_scale_out.py). Each takes the corpus copy and a knowledge-base factory (``kb_factory`` in
tests/conftest.py, or the scale-out one)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingest.pipeline import IngestRun
from knowledge.base import KnowledgeBase
from knowledge.retriever import hybrid_search

SAMPLE_NAME = "osaka_r5_zaitaku_renkei_progress.txt"


def assert_consistent(kb: KnowledgeBase) -> set[str]:
    """Chroma, the lexical index and the catalog list exactly the same chunks."""
    live = kb.catalog.live_chunk_ids()
    assert live, "the catalog is empty"
    assert kb.vectors.ids() == live
    assert kb.lexical.chunk_ids() == live
    return live


def check_first_ingest_then_noop_rerun_embeds_nothing(corpus_copy: Path, kb_factory: Callable[..., Any]) -> None:
    kb, counting = kb_factory(corpus_copy)
    first = IngestRun(kb).run([corpus_copy])
    assert first.summary["added"] == 2  # the report and its record file
    assert not first.failed
    ids = assert_consistent(kb)
    embedded = counting.documents_embedded
    assert embedded == len(ids)

    second = IngestRun(kb).run([corpus_copy])
    assert second.summary["unchanged"] == 2 and second.summary["added"] == 0
    assert counting.documents_embedded == embedded  # zero embedding calls
    assert assert_consistent(kb) == ids


def check_edit_replaces_only_changed_chunks_and_full_removes_deleted(
    corpus_copy: Path, kb_factory: Callable[..., Any]
) -> None:
    kb, counting = kb_factory(corpus_copy)
    IngestRun(kb).run([corpus_copy])
    before = assert_consistent(kb)
    document = corpus_copy / SAMPLE_NAME
    document.write_text(
        document.read_text(encoding="utf-8") + "\n\n【追記】\n・新しい研修会を令和６年度に開催予定\n", encoding="utf-8"
    )
    embedded = counting.documents_embedded

    report = IngestRun(kb).run([corpus_copy])
    assert report.summary["updated"] == 1
    after = assert_consistent(kb)
    assert len(after - before) >= 1
    assert counting.documents_embedded - embedded == len(after - before)  # unchanged chunks are reused
    kb.refresh()
    hits = hybrid_search(kb, "新しい研修会", k=3)
    assert "新しい研修会" in hits[0].chunk.text

    extra = corpus_copy / "extra.md"
    extra.write_text("# 追加資料\n\n西成区の取組みについての記録です。", encoding="utf-8")
    IngestRun(kb).run([corpus_copy])
    assert kb.document("extra.md") is not None
    extra.unlink()
    assert IngestRun(kb).run([corpus_copy]).summary["deleted"] == 0  # incremental runs keep it
    report = IngestRun(kb).run([corpus_copy], full=True)
    assert report.summary["deleted"] == 1
    assert kb.document("extra.md") is None
    assert_consistent(kb)


def check_broken_files_fail_alone_with_reasons(corpus_copy: Path, kb_factory: Callable[..., Any]) -> None:
    (corpus_copy / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (corpus_copy / "empty.txt").write_bytes(b"")
    (corpus_copy / "junk.txt").write_bytes(os.urandom(4096))
    (corpus_copy / "image.png").write_bytes(b"\x89PNG\r\n")
    (corpus_copy / "cp932.txt").write_bytes("港区の在宅医療・介護連携の取組みを紹介します。".encode("cp932"))
    kb, _ = kb_factory(corpus_copy)
    report = IngestRun(kb).run([corpus_copy])
    failed = {Path(item.path).name: item for item in report.failed}
    assert set(failed) == {"broken.pdf", "empty.txt", "junk.txt"}
    assert all(item.reason and item.stage for item in failed.values())
    skipped = [Path(item.path).name for item in report.files if item.status == "skipped"]
    assert skipped == ["image.png"]
    assert kb.document("cp932.txt") is not None
    assert "港区" in kb.document("cp932.txt").text
    assert_consistent(kb)


def check_dry_run_writes_nothing(corpus_copy: Path, kb_factory: Callable[..., Any]) -> None:
    kb, counting = kb_factory(corpus_copy)
    report = IngestRun(kb).run([corpus_copy], dry_run=True)
    assert report.summary["added"] == 2
    assert counting.documents_embedded == 0
    assert kb.catalog.counts() == {"documents": 0, "chunks": 0}
