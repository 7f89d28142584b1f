"""``renkei serve`` is up before the embedding model is loaded, and answers record questions meanwhile."""

from __future__ import annotations

import time

import httpx
from filelock import FileLock

from tests.support.server import ingest, new_deployment, start_server

RECORD_QUESTION = "新任コーディネーター向けの説明は何月何日にありましたか"
PASSAGE_QUESTION = "新任のコーディネーターは採用されたらまず何をしてもらえますか"


def _health(client: httpx.Client) -> dict:
    response = client.get("/api/health")
    assert response.status_code == 200, response.text
    return response.json()


def test_health_and_record_answers_do_not_wait_for_the_model(e5_model_dir, tmp_path, monkeypatch):
    deployment = new_deployment(tmp_path)
    model_link = deployment.data / "models" / "multilingual-e5-small"  # where the default model lives
    model_link.parent.mkdir(parents=True)
    model_link.symlink_to(e5_model_dir)
    monkeypatch.setenv("RENKEI_TEST_EMBEDDING_MODEL", str(model_link))
    ingest(deployment)  # with the real model, so passage questions have vectors to search
    model_link.unlink()

    # The server's background loader finds no default model and waits on the build lock we hold: the model
    # cannot finish loading until we say so, whatever the machine's speed.
    with FileLock(str(model_link.parent / ".multilingual-e5-small.lock")):
        server = start_server(deployment, RENKEI_EMBEDDING_MODEL=None)
        try:
            with server.client() as client:
                health = _health(client)
                assert health["embedding_model_ready"] is False and health["chunks"] > 0
                record = client.post("/api/chat", json={"message": RECORD_QUESTION})
                assert record.status_code == 200, record.text
                assert "4月24日" in record.json()["answer"]
                assert _health(client)["embedding_model_ready"] is False
                model_link.symlink_to(e5_model_dir)  # "the build finished": the loader finds a complete model
        except BaseException:
            server.stop()
            raise
    try:
        with server.client() as client:
            deadline = time.monotonic() + 120
            while not _health(client)["embedding_model_ready"]:
                assert time.monotonic() < deadline, server.log()[-3000:]
                time.sleep(0.2)
            passage = client.post("/api/chat", json={"message": PASSAGE_QUESTION})
            assert passage.status_code == 200, passage.text
            assert passage.json()["citations"], passage.json()  # answered from the passages, not refused
    finally:
        server.stop()


def test_health_answers_from_the_catalog_and_reports_an_index_that_cannot_load(tmp_path):
    """The indexes load after start-up: health does not wait for them, and says "degraded" when they fail (a
    corruption the start-up check cannot see, inside the lexical index's current version)."""
    deployment = new_deployment(tmp_path)
    ingest(deployment)
    lexical = deployment.data / "lexical"
    (lexical / (lexical / "CURRENT").read_text(encoding="utf-8").strip() / "tokens.npy").write_bytes(b"\x00garbage")
    server = start_server(deployment)
    try:
        with server.client() as client:
            deadline = time.monotonic() + 60
            while (health := _health(client))["status"] != "degraded":
                assert time.monotonic() < deadline, server.log()[-3000:]
                time.sleep(0.1)
            assert health["documents"] == 1 and health["chunks"] > 0 and health["records"] > 0
            answer = client.post("/api/chat", json={"message": PASSAGE_QUESTION})
            assert answer.status_code >= 500, answer.text
        assert "loading the lexical index failed" in server.log()
    finally:
        server.stop()
