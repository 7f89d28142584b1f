"""Scale-out: the ingest checks, the ingest lock and several ``renkei serve`` workers on shared services.

Every test here runs against a real ``chroma run`` server (``RENKEI_CHROMA_URL``) and a fresh PostgreSQL
database (``RENKEI_DATABASE_URL``); they are skipped when ``RENKEI_TEST_POSTGRES_URL`` is not set.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import Embeddings

from knowledge.base import KnowledgeBase
from knowledge.hashing_embeddings import HashingEmbeddings
from knowledge.vectorstore import chroma_server_address
from tests.support.cli import run_renkei
from tests.support.faults import paused_renkei
from tests.support.ingest_checks import SAMPLE_NAME, assert_consistent
from tests.support.ingest_checks import check_broken_files_fail_alone_with_reasons as check_broken_files
from tests.support.ingest_checks import check_dry_run_writes_nothing as check_dry_run
from tests.support.ingest_checks import (
    check_edit_replaces_only_changed_chunks_and_full_removes_deleted as check_edit_delete,
)
from tests.support.ingest_checks import check_first_ingest_then_noop_rerun_embeds_nothing as check_first_and_noop
from tests.support.kb import CountingEmbeddings, make_settings
from tests.support.scaleout import SharedServices
from tests.support.server import ADMIN_TOKEN, REPO, Deployment, Server, new_deployment, start_server

pytestmark = [pytest.mark.scaleout, pytest.mark.postgres]

RECORDS_NAME = SAMPLE_NAME.replace(".txt", ".records.yaml")
OLD_VENUE, NEW_VENUE = "中央区民センター", "中央区民ホール"
QUESTIONS = ("北ブロックの研修会の講師は？", "北ブロックの研修会の会場は？", "ACPの取組みは？")


@pytest.fixture
def shared_kb_factory(
    tmp_path: Path, shared_services: SharedServices
) -> Iterator[Callable[..., tuple[KnowledgeBase, CountingEmbeddings]]]:
    """Like ``kb_factory`` in tests/conftest.py, but on the Chroma server and PostgreSQL."""
    built: list[KnowledgeBase] = []

    def build(corpus: Path, embeddings: Embeddings | None = None) -> tuple[KnowledgeBase, CountingEmbeddings]:
        counting = CountingEmbeddings(embeddings or HashingEmbeddings())
        settings = make_settings(
            tmp_path / "data",
            corpus,
            embedding_model="hashing",
            chroma_url=shared_services.chroma_url,
            database_url=shared_services.database_url,
            collection=shared_services.collection,
        )
        kb = KnowledgeBase(settings, embeddings=counting)
        built.append(kb)
        return kb, counting

    yield build
    for kb in built:
        kb.dispose()


@pytest.mark.parametrize(
    "check",
    [check_first_and_noop, check_edit_delete, check_broken_files, check_dry_run],
    ids=["first-ingest-and-noop", "edit-and-full-delete", "broken-files", "dry-run"],
)
def test_ingest_pipeline_on_chroma_server_and_postgres(
    check: Callable[..., None],
    corpus_copy: Path,
    shared_kb_factory: Callable[..., Any],
) -> None:
    check(corpus_copy, shared_kb_factory)


def test_the_catalog_and_vectors_really_live_on_the_shared_services(
    corpus_copy: Path,
    shared_kb_factory: Callable[..., Any],
    shared_services: SharedServices,
) -> None:
    from ingest.pipeline import IngestRun

    kb, _ = shared_kb_factory(corpus_copy)
    IngestRun(kb).run([corpus_copy])
    live = assert_consistent(kb)
    assert kb.engine.dialect.name == "postgresql"
    assert not (kb.settings.storage.data_dir / "chroma").exists() and not list(
        kb.settings.storage.data_dir.glob("*.sqlite3")
    )
    import chromadb

    port = int(shared_services.chroma_url.rsplit(":", 1)[1])
    remote = chromadb.HttpClient(host="127.0.0.1", port=port).get_collection(shared_services.collection)
    assert set(remote.get(include=[])["ids"]) == live


# --- processes sharing the services ------------------------------------------------------------------------
def cli(deployment: Deployment, services: SharedServices, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_renkei(deployment.env(**services.env(), **env), *args, timeout=300)


def start_paused_ingest(
    deployment: Deployment, services: SharedServices, stage: str, marker: Path
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        paused_renkei(stage, marker, "ingest", "--json"),
        cwd=REPO,
        env=deployment.env(**services.env()),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), f"the ingest never reached stage {stage}"
    return process


def test_ingest_lock_spans_machines_sharing_postgres(tmp_path: Path, shared_services: SharedServices) -> None:
    """Two data dirs (two "machines"): the file lock cannot see the other, the advisory lock does."""
    machine_a = new_deployment(tmp_path / "a")
    machine_b = new_deployment(tmp_path / "b")
    holder = start_paused_ingest(machine_a, shared_services, "parse", tmp_path / "paused")
    try:
        refused = cli(machine_b, shared_services, "ingest", "--json")
        assert refused.returncode != 0
        assert "already running" in refused.stderr
        assert not (machine_b.data / "lexical").exists() or not any((machine_b.data / "lexical").iterdir())
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # a crashed ingest: PostgreSQL releases its session lock
        holder.wait()
    deadline = time.monotonic() + 30
    while (
        result := cli(machine_b, shared_services, "ingest", "--json")
    ).returncode != 0 and time.monotonic() < deadline:
        assert "already running" in result.stderr, result.stderr[-2000:]
        time.sleep(0.5)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["summary"]["added"] == 2


def ask(server: Server, question: str) -> dict[str, Any]:
    with server.client() as http:
        response = http.post("/api/chat", json={"message": question, "as_of": "2023-09-01"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    body.pop("conversation_id")
    return body


def follow_up(first: Server, second: Server) -> dict[str, Any]:
    """Ask on ``first``, then the follow-up 「所属は？」 on ``second`` in the same conversation."""
    with first.client() as http:
        conversation_id = http.post("/api/chat", json={"message": QUESTIONS[0]}).json()["conversation_id"]
    with second.client() as http:
        response = http.post("/api/chat", json={"message": "所属は？", "conversation_id": conversation_id})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body.pop("conversation_id") == conversation_id
    assert "おおさか往診クリニック" in body["answer"]
    return body


def wait_for_ingest(server: Server, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    with server.client(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as http:
        while time.monotonic() < deadline:
            status: dict[str, Any] = http.get(f"/api/admin/ingest/{run_id}").json()
            if status["status"] != "running":
                return status
            time.sleep(0.2)
    raise AssertionError(f"ingest {run_id} did not finish")


def rename_venue(corpus: Path) -> None:
    for name in (SAMPLE_NAME, RECORDS_NAME):
        path = corpus / name
        path.write_text(path.read_text(encoding="utf-8").replace(OLD_VENUE, NEW_VENUE), encoding="utf-8")


def test_two_serve_workers_answer_alike_and_both_follow_an_ingest(
    tmp_path: Path, shared_services: SharedServices
) -> None:
    deployment = new_deployment(tmp_path)
    first = cli(deployment, shared_services, "ingest", "--json")
    assert first.returncode == 0, first.stderr[-2000:]
    services = shared_services.env()
    workers = [start_server(deployment, **services, RENKEI_ADMIN_TOKEN=ADMIN_TOKEN) for _ in range(2)]
    try:
        for question in QUESTIONS:
            one, two = (ask(worker, question) for worker in workers)
            assert one == two, question
            assert one["citations"], question
        assert OLD_VENUE in json.dumps(ask(workers[0], QUESTIONS[1]), ensure_ascii=False)
        # conversations live in PostgreSQL: a follow-up may land on the other worker
        assert follow_up(workers[0], workers[1]) == follow_up(workers[0], workers[0])

        rename_venue(deployment.corpus)
        with workers[0].client(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as http:
            started = http.post("/api/admin/ingest", json={"full": True})
        assert started.status_code == 202, started.text
        status = wait_for_ingest(workers[0], started.json()["run_id"])
        assert status["status"] == "succeeded", status
        assert status["summary"]["updated"] == 2  # the report and its record file

        one, two = (ask(worker, QUESTIONS[1]) for worker in workers)
        assert one == two
        text = json.dumps(one, ensure_ascii=False)
        assert NEW_VENUE in text and OLD_VENUE not in text
    finally:
        for worker in workers:
            worker.stop()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8123", ("127.0.0.1", 8123, False)),
        ("http://chroma-host", ("chroma-host", 8000, False)),
        ("https://chroma.example.org", ("chroma.example.org", 443, True)),
        ("https://[::1]:9000/", ("::1", 9000, True)),
    ],
)
def test_chroma_url_gives_host_port_and_tls(url: str, expected: tuple[str, int, bool]) -> None:
    assert chroma_server_address(url) == expected


@pytest.mark.parametrize(
    "url", ["chroma-host:8000", "127.0.0.1:8000", "tcp://chroma:8000", "http://chroma:8000/prefix"]
)
def test_a_chroma_url_that_would_be_misread_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="RENKEI_CHROMA_URL"):
        chroma_server_address(url)
