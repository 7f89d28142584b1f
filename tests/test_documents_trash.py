"""Deleting to the trash and restoring, on a real Chroma, BM25 index and SQLite (no server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from filelock import FileLock

from ingest.documents import ENTRY_FILE, TRASH_DIR, delete_document, list_documents, restore_document
from ingest.errors import ActionRefused
from ingest.pipeline import IngestRun
from knowledge.database import open_database
from tests.kb_fixtures import corpus_copy, kb_factory  # noqa: F401 - fixtures

SAMPLE_NAME = "osaka_r5_zaitaku_renkei_progress.txt"


def test_delete_moves_file_and_sidecar_and_empties_both_indexes_then_restore_brings_it_back(
    corpus_copy, kb_factory
) -> None:
    kb, _ = kb_factory(corpus_copy)
    IngestRun(kb).run([corpus_copy])
    engine = open_database(kb.settings.storage.resolved_database_url)
    result = delete_document(kb, engine, SAMPLE_NAME)
    trash = corpus_copy / TRASH_DIR / str(result["trash_id"])
    assert sorted(p.name for p in trash.iterdir()) == sorted([ENTRY_FILE, SAMPLE_NAME, f"{SAMPLE_NAME}.meta.yaml"])
    assert not (corpus_copy / SAMPLE_NAME).exists() and not (corpus_copy / f"{SAMPLE_NAME}.meta.yaml").exists()
    assert kb.catalog.live_chunk_ids() == set() and kb.vectors.ids() == set() and kb.lexical.chunk_ids() == set()
    assert [d.status for d in list_documents(kb, engine)] == ["deleted"]
    assert IngestRun(kb).run([corpus_copy]).summary["added"] == 0  # discovery never reads the trash

    restore_document(kb, str(result["trash_id"]))
    assert (corpus_copy / f"{SAMPLE_NAME}.meta.yaml").is_file() and not trash.exists()
    assert IngestRun(kb).run([corpus_copy]).summary["added"] == 1
    assert [d.status for d in list_documents(kb, engine)] == ["indexed"]


def test_delete_waits_for_a_running_ingest_and_changes_nothing(corpus_copy, kb_factory) -> None:
    kb, _ = kb_factory(corpus_copy)
    IngestRun(kb).run([corpus_copy])
    engine = open_database(kb.settings.storage.resolved_database_url)
    live = kb.catalog.live_chunk_ids()
    with FileLock(str(kb.lock_path)), pytest.raises(ActionRefused) as refused:
        delete_document(kb, engine, SAMPLE_NAME)
    assert refused.value.status == 409 and refused.value.code == "ingest_running"
    assert (corpus_copy / SAMPLE_NAME).is_file() and not (corpus_copy / TRASH_DIR).exists()
    assert kb.catalog.live_chunk_ids() == live


def test_restore_refuses_a_taken_place_and_a_damaged_entry(corpus_copy, kb_factory) -> None:
    kb, _ = kb_factory(corpus_copy)
    IngestRun(kb).run([corpus_copy])
    engine = open_database(kb.settings.storage.resolved_database_url)
    trash_id = str(delete_document(kb, engine, SAMPLE_NAME)["trash_id"])
    (corpus_copy / SAMPLE_NAME).write_text("同じ名前の新しい資料", encoding="utf-8")
    with pytest.raises(ActionRefused) as taken:
        restore_document(kb, trash_id)
    assert taken.value.code == "restore_conflict"
    (corpus_copy / SAMPLE_NAME).unlink()

    entry_file = corpus_copy / TRASH_DIR / trash_id / ENTRY_FILE
    entry = json.loads(entry_file.read_text(encoding="utf-8"))
    entry_file.write_text(json.dumps({**entry, "original": str(Path("/etc") / "passwd.txt")}), encoding="utf-8")
    with pytest.raises(ActionRefused) as damaged:
        restore_document(kb, trash_id)
    assert damaged.value.code == "invalid_trash_entry"
    assert (corpus_copy / TRASH_DIR / trash_id / SAMPLE_NAME).is_file()  # nothing moved


def test_a_catalog_from_before_page_counts_gets_the_column(tmp_path: Path) -> None:
    import sqlite3

    from knowledge.catalog import Catalog

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as old:  # kb_documents as the first release created it
        old.execute(
            "CREATE TABLE kb_documents (document_id VARCHAR(512) PRIMARY KEY, title VARCHAR(512), doc_type VARCHAR(32),"
            " sha256 VARCHAR(64), fiscal_year INTEGER, wards JSON, source_path VARCHAR(1024), text TEXT, updated_at DATETIME)"
        )
        old.execute(
            "INSERT INTO kb_documents VALUES ('a.txt', 'A', 'other', 'x', NULL, '[]', '', '本文', '2024-01-01 00:00:00')"
        )
    catalog = Catalog(open_database(f"sqlite:///{path}"))
    assert [(s.document_id, s.pages) for s in catalog.document_summaries()] == [("a.txt", None)]
    assert catalog.document("a.txt").page_count is None  # type: ignore[union-attr]
