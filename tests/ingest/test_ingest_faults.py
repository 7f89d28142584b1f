"""``kill -9`` of an ingest during the SQL records write (the other stages: tests/ingest/test_ingest_pipeline.py).

On SQLite the run is paused at the pipeline's ``records`` checkpoint (after the catalog commit, before the
records transaction) and killed. On PostgreSQL it is killed INSIDE the records transaction: the test holds
a SHARE lock on ``record_files``, so the ingest has already deleted and re-inserted the file's records
(uncommitted) when it blocks on its ``record_files`` update; it is killed there. Either way the previous
records must stay whole, queries must keep working, and the next ingest must leave records and chunks in
step.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from knowledge.base import KnowledgeBase
from knowledge.config import RetrievalSettings, Settings, StorageSettings
from knowledge.retriever import hybrid_search
from records.models import RECORD_MODELS, Event
from records.queries import count_records
from tests.support.cli import run_renkei
from tests.support.faults import paused_renkei
from tests.support.ingest_checks import SAMPLE_NAME, assert_consistent
from tests.support.paths import REPO
from tests.support.server import Deployment, new_deployment

RECORDS_NAME = SAMPLE_NAME.replace(".txt", ".records.yaml")
OLD_VENUE, NEW_VENUE = "中央区民センター", "中央区民ホール"
NORTH_TRAINING = "block-training-2023-north"


def ingest_command() -> list[str]:
    return [sys.executable, "-m", "api.cli", "ingest", "--json"]


def run_ingest(env: dict[str, str]) -> None:
    result = run_renkei(env, "ingest", "--json", timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


def rename_venue(corpus: Path) -> None:
    """Edit the report and its record file together (record quotes must match the report's text)."""
    for name in (SAMPLE_NAME, RECORDS_NAME):
        path = corpus / name
        path.write_text(path.read_text(encoding="utf-8").replace(OLD_VENUE, NEW_VENUE), encoding="utf-8")


def venue(settings: Settings) -> str | None:
    engine = create_engine(settings.storage.resolved_database_url)
    try:
        with Session(engine) as session:
            return session.scalar(select(Event.venue).where(Event.id == NORTH_TRAINING))
    finally:
        engine.dispose()


def record_counts(settings: Settings) -> dict[str, int]:
    engine = create_engine(settings.storage.resolved_database_url)
    try:
        with Session(engine) as session:
            return count_records(session)
    finally:
        engine.dispose()


def collapse(value: str) -> str:
    """Whitespace-insensitive form: record quotes are cut from the raw file, the catalog holds the parsed text."""
    return "".join(value.split())


def assert_records_match_documents(settings: Settings) -> None:
    """Every record's quote is a passage of the live catalog text of its document; chunks are consistent."""
    kb = KnowledgeBase(settings)
    try:
        assert_consistent(kb)
        engine = create_engine(settings.storage.resolved_database_url)
        with Session(engine) as session:
            for model in RECORD_MODELS.values():
                for record in session.scalars(select(model)):
                    document = kb.document(record.document_id)  # type: ignore[attr-defined]
                    assert document is not None, record.document_id  # type: ignore[attr-defined]
                    quote = collapse(record.quote)  # type: ignore[attr-defined]
                    assert quote in collapse(document.text), (model.__name__, quote[:60])
        engine.dispose()
    finally:
        kb.dispose()


def assert_queries_answer(settings: Settings) -> None:
    kb = KnowledgeBase(settings)
    try:
        kb.refresh()
        hits = hybrid_search(kb, "北ブロック 研修会 会場", k=5)
        live = kb.catalog.live_chunk_ids()
        assert hits and all(hit.chunk.chunk_id in live for hit in hits)
    finally:
        kb.dispose()


def settings_of(deployment: Deployment, database_url: str | None) -> Settings:
    return Settings(
        storage=StorageSettings(data_dir=deployment.data, corpus_dirs=[deployment.corpus], database_url=database_url),
        retrieval=RetrievalSettings(embedding_model="hashing"),
    )


def wait_for(condition_met, what: str, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition_met():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def kill(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def assert_killed_run_kept_the_old_records_and_a_rerun_applies(
    settings: Settings, env: dict[str, str], before: dict[str, int]
) -> None:
    """After a killed ingest: the records are those of before (nothing lost, nothing duplicated) and answer; the
    next ingest applies the renamed venue and leaves the records matching the documents."""
    assert record_counts(settings) == before
    assert venue(settings) == OLD_VENUE
    assert_queries_answer(settings)
    run_ingest(env)
    assert record_counts(settings) == before
    assert venue(settings) == NEW_VENUE
    assert_records_match_documents(settings)


def test_kill_9_before_the_records_transaction_keeps_the_previous_records(tmp_path: Path) -> None:
    deployment = new_deployment(tmp_path)
    env = deployment.env()
    run_ingest(env)
    settings = settings_of(deployment, None)
    before = record_counts(settings)
    rename_venue(deployment.corpus)

    marker = tmp_path / "paused"
    process = subprocess.Popen(
        paused_renkei("records", marker, "ingest", "--json"),
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: marker.exists() or process.poll() is not None, "the records checkpoint")
    assert marker.exists(), "the ingest never reached the records stage"
    kill(process)

    assert_killed_run_kept_the_old_records_and_a_rerun_applies(settings, env, before)


@pytest.fixture
def postgres_deployment(tmp_path: Path, postgres_database: str) -> Iterator[tuple[Deployment, str]]:
    yield new_deployment(tmp_path), postgres_database


def blocked_on_record_files(database_url: str) -> bool:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query ILIKE '%record_files%'"
                )
            ).scalar()
            return bool(waiting)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_kill_9_inside_the_records_transaction_on_postgres(postgres_deployment: tuple[Deployment, str]) -> None:
    deployment, database_url = postgres_deployment
    env = deployment.env(RENKEI_DATABASE_URL=database_url)
    run_ingest(env)
    settings = settings_of(deployment, database_url)
    before = record_counts(settings)
    rename_venue(deployment.corpus)

    blocker = create_engine(database_url)
    try:
        with blocker.connect() as connection:
            connection.execute(text("LOCK TABLE record_files IN SHARE MODE"))
            process = subprocess.Popen(
                ingest_command(), cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                wait_for(
                    lambda: blocked_on_record_files(database_url) or process.poll() is not None, "the records write"
                )
                assert process.poll() is None, "the ingest finished without writing records"
            finally:
                kill(process)
            # the killed transaction's deletes and inserts are invisible even before PostgreSQL rolls it back
            assert record_counts(settings) == before
            assert venue(settings) == OLD_VENUE
            connection.rollback()
    finally:
        blocker.dispose()

    assert_killed_run_kept_the_old_records_and_a_rerun_applies(settings, env, before)
