"""The ingest run against a real Chroma, a real BM25 index and a real SQLite, in temp dirs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from filelock import FileLock

from ingest.locking import IngestAlreadyRunning
from ingest.pipeline import IngestRun
from knowledge.base import KnowledgeBase
from knowledge.retriever import hybrid_search
from knowledge.vectorstore import EmbeddingModelMismatch, VectorIndex
from tests.faults import Recorder, paused_renkei
from tests.kb_fixtures import REPO, corpus_copy, kb_factory  # noqa: F401 - fixtures

SAMPLE_NAME = "osaka_r5_zaitaku_renkei_progress.txt"


def assert_consistent(kb: KnowledgeBase) -> set[str]:
    """Chroma, the lexical index and the catalog list exactly the same chunks."""
    live = kb.catalog.live_chunk_ids()
    assert live, "the catalog is empty"
    assert kb.vectors.ids() == live
    assert kb.lexical.chunk_ids() == live
    return live


def test_first_ingest_then_noop_rerun_embeds_nothing(corpus_copy, kb_factory) -> None:
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


def test_edit_replaces_only_changed_chunks_and_full_removes_deleted(corpus_copy, kb_factory) -> None:
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


def test_broken_files_fail_alone_with_reasons(corpus_copy, kb_factory) -> None:
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


def test_same_content_under_two_names_is_not_returned_twice(corpus_copy, kb_factory) -> None:
    shutil.copy(corpus_copy / SAMPLE_NAME, corpus_copy / "copy_of_report.txt")
    kb, _ = kb_factory(corpus_copy)
    IngestRun(kb).run([corpus_copy])
    results = hybrid_search(kb, "合同研修会の回収率", k=5)
    texts = [r.chunk.text for r in results]
    assert len(texts) == len(set(texts))


def test_dry_run_writes_nothing(corpus_copy, kb_factory) -> None:
    kb, counting = kb_factory(corpus_copy)
    report = IngestRun(kb).run([corpus_copy], dry_run=True)
    assert report.summary["added"] == 2
    assert counting.documents_embedded == 0
    assert kb.catalog.counts() == {"documents": 0, "chunks": 0}


def test_second_concurrent_ingest_is_refused(corpus_copy, kb_factory) -> None:
    kb, _ = kb_factory(corpus_copy)
    kb.settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    with (
        FileLock(str(kb.lock_path)),
        pytest.raises(IngestAlreadyRunning, match="already running"),
    ):
        IngestRun(kb).run([corpus_copy])


def test_model_mismatch_asks_for_rebuild(corpus_copy, kb_factory) -> None:
    kb, _ = kb_factory(corpus_copy)
    IngestRun(kb).run([corpus_copy])
    with pytest.raises(EmbeddingModelMismatch, match="--rebuild"):
        VectorIndex(kb.settings, kb.embeddings, "another-model", 768)


def test_a_run_reports_its_stages_to_the_hooks_it_is_given(corpus_copy, kb_factory) -> None:
    kb, _ = kb_factory(corpus_copy)
    first, again = Recorder(), Recorder()
    IngestRun(kb, hooks=first).run([corpus_copy])
    assert first.stages == ["parse", "embed", "vector_write", "catalog", "records"]
    IngestRun(kb, hooks=again).run([corpus_copy])
    assert again.stages == ["records"]  # nothing changed: no document stage is reached


@pytest.mark.parametrize("stage", ["parse", "embed", "vector_write", "catalog"])
def test_kill_9_mid_ingest_leaves_previous_index_answering(stage: str, corpus_copy: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {
        **os.environ,
        "RENKEI_DATA_DIR": str(data),
        "RENKEI_CORPUS_DIRS": json.dumps([str(corpus_copy)]),
        "RENKEI_EMBEDDING_MODEL": "hashing",
        "HF_HUB_OFFLINE": "1",
    }
    command = [sys.executable, "-m", "api.cli", "ingest", "--json"]
    subprocess.run(command, env=env, cwd=REPO, check=True, capture_output=True, timeout=300)
    document = corpus_copy / SAMPLE_NAME
    document.write_text(
        document.read_text(encoding="utf-8").replace("住吉区民センター", "住吉区民ホール"), encoding="utf-8"
    )

    marker = tmp_path / "paused"
    process = subprocess.Popen(
        paused_renkei(stage, marker, "ingest", "--json"),
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    assert marker.exists(), f"ingest never reached stage {stage}"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    from knowledge.config import RetrievalSettings, Settings, StorageSettings

    settings = Settings(
        storage=StorageSettings(data_dir=data, corpus_dirs=[corpus_copy]),
        retrieval=RetrievalSettings(embedding_model="hashing"),
    )
    kb = KnowledgeBase(settings)
    old = kb.document(SAMPLE_NAME)
    assert old is not None and "住吉区民センター" in old.text  # the previous version still answers
    kb.refresh()
    hits = hybrid_search(kb, "南ブロック 住吉区民", k=5)
    assert hits and all(hit.chunk.chunk_id in kb.catalog.live_chunk_ids() for hit in hits)

    subprocess.run(command, env=env, cwd=REPO, check=True, capture_output=True, timeout=300)
    kb = KnowledgeBase(settings)
    assert "住吉区民ホール" in kb.document(SAMPLE_NAME).text
    assert_consistent(kb)


def test_new_report_yields_draft_records_once(corpus_copy, kb_factory) -> None:
    kb, _ = kb_factory(corpus_copy)
    IngestRun(kb).run([corpus_copy])
    (corpus_copy / "training_2024.md").write_text(
        "# 令和６年度 北ブロック多職種研修会 報告\n\n"
        "【日 時】 令和６年９月10日（火）14：00～16：00\n\n"
        "【場 所】 北区民センター\n\n"
        "講師：大阪北診療所 院長 山田 太郎 先生\n\n"
        "【参加者】 医師12名 看護師20名 合計32名\n",
        encoding="utf-8",
    )
    first = IngestRun(kb).run([corpus_copy])
    assert first.summary["added"] == 1 and first.drafts_proposed >= 1
    again = IngestRun(kb).run([corpus_copy])
    assert again.drafts_proposed == 0


def test_an_index_lost_by_hand_is_restored_by_the_next_run(corpus_copy, kb_factory) -> None:
    kb, counting = kb_factory(corpus_copy)
    IngestRun(kb).run([corpus_copy])
    live = assert_consistent(kb)
    embedded = counting.documents_embedded
    kb.lexical.clear()
    kb.lexical.save()
    kb.vectors.delete(sorted(live)[:3])
    IngestRun(kb).run([corpus_copy])
    assert assert_consistent(kb) == live
    assert counting.documents_embedded - embedded == 3  # only the vectors that were lost
