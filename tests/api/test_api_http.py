"""HTTP contract tests against a real ``renkei serve`` process (see tests/support/server.py)."""

from __future__ import annotations

import http.client
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from filelock import FileLock

from api.bench.paths import DEV_QUESTIONS as DEV_QUESTIONS_FILE
from api.schemas import Health, IngestStatus, RecordList, SourcePassage
from assistant.schemas import ChatAnswer
from records.reference import WARDS
from tests.support.server import ADMIN_TOKEN, Deployment, Server, start_server

DEV_QUESTIONS = yaml.safe_load(DEV_QUESTIONS_FILE.read_text(encoding="utf-8"))
CITE = re.compile(r"\[(\d+)\]")
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture()
def client(sample_server: Server) -> Iterator[httpx.Client]:
    with sample_server.client() as http:
        yield http


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    error: dict[str, str] = body["error"]
    return error


def read_sse(response: httpx.Response) -> list[tuple[str, Any]]:
    """Parse a text/event-stream body into (event, data) pairs."""
    events: list[tuple[str, Any]] = []
    for block in response.text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        name = next(line[6:].strip() for line in block.split("\n") if line.startswith("event:"))
        data = "\n".join(line[5:].lstrip() for line in block.split("\n") if line.startswith("data:"))
        events.append((name, json.loads(data)))
    return events


def chat_body(item: dict[str, Any]) -> dict[str, Any]:
    body = {"message": item["question"]}
    for key in ("ward", "as_of"):
        if key in item:
            body[key] = str(item[key])
    return body


# --- health, page, docs -------------------------------------------------------------------------------
def test_health_reports_counts_and_model(client: httpx.Client) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    health = Health.model_validate(response.json())
    assert health.status == "ok"
    assert health.documents == 1 and health.chunks > 5 and health.records > 10
    assert health.embedding_model
    assert health.last_ingest is not None


def test_page_and_static_files_are_served_with_a_strict_csp(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert 'lang="ja"' in page.text
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200
    script = client.get("/static/app.js").text
    assert not re.search(r"\.(inner|outer)HTML\s*[+]?=|insertAdjacentHTML|document\.write|\beval\(", script)


def test_openapi_documents_the_endpoints_with_japanese_examples(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    for path in (
        "/api/chat",
        "/api/chat/stream",
        "/api/sources/{document_id}",
        "/api/records/events",
        "/api/admin/ingest",
        "/api/health",
    ):
        assert path in spec["paths"], path
    examples = spec["paths"]["/api/chat"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert any("北ブロック" in example["value"]["message"] for example in examples.values())


# --- chat ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("item", DEV_QUESTIONS, ids=[item["id"] for item in DEV_QUESTIONS])
def test_every_citation_marker_is_backed_by_an_exact_passage(client: httpx.Client, item: dict[str, Any]) -> None:
    response = client.post("/api/chat", json=chat_body(item))
    assert response.status_code == 200, response.text
    answer = ChatAnswer.model_validate(response.json())
    by_n = {citation.n: citation for citation in answer.citations}
    assert set(map(int, CITE.findall(answer.answer))) <= set(by_n), answer.answer
    for citation in answer.citations:
        exact = client.get(
            f"/api/sources/{citation.document_id}", params={"start": citation.start, "end": citation.end}
        )
        assert exact.status_code == 200, exact.text
        assert SourcePassage.model_validate(exact.json()).passage == citation.snippet
        if citation.chunk_id:
            around = SourcePassage.model_validate(
                client.get(f"/api/sources/{citation.document_id}", params={"chunk": citation.chunk_id}).json()
            )
            assert citation.snippet in around.before + around.passage + around.after


def test_chat_answers_with_records_and_conversation_id(client: httpx.Client) -> None:
    response = client.post("/api/chat", json={"message": "北ブロックの研修会の講師は？"})
    answer = ChatAnswer.model_validate(response.json())
    assert "田村" in answer.answer and answer.grounded and answer.citations
    assert any(record.get("type") == "event" for record in answer.records)
    follow_up = client.post("/api/chat", json={"message": "所属は？", "conversation_id": answer.conversation_id})
    assert follow_up.status_code == 200
    assert follow_up.json()["conversation_id"] == answer.conversation_id


def test_stream_sends_deltas_then_citations_records_done(client: httpx.Client) -> None:
    body = {"message": "私の区の研修はいつ？", "ward": "鶴見区", "as_of": "2023-09-01"}
    with client.stream("POST", "/api/chat/stream", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        response.read()
    events = read_sse(response)
    names = [name for name, _ in events]
    deltas = names.index("citations")
    assert deltas >= 1 and set(names[:deltas]) == {"delta"}
    assert names[deltas:] == ["citations", "records", "done"]
    streamed = "".join(data["text"] for name, data in events if name == "delta")
    assert "9月29日" in streamed
    plain = ChatAnswer.model_validate(client.post("/api/chat", json=body).json())
    assert streamed == plain.answer
    assert [c["n"] for c in events[deltas][1]] == [c.n for c in plain.citations]
    assert events[-1][1]["conversation_id"]


def test_a_client_leaving_mid_stream_does_not_break_the_server(sample_server: Server) -> None:
    body = {"message": "北ブロックの研修会の講師は？"}
    for _ in range(3):
        with sample_server.client() as http, http.stream("POST", "/api/chat/stream", json=body) as response:
            assert response.status_code == 200
            first = next(response.iter_lines())
            assert first.startswith("event: delta")
        # leaving the block closes the connection before the stream ends
    payload = json.dumps(body).encode()
    for _ in range(3):  # a client that sends the request and hangs up at once
        with socket.create_connection(("127.0.0.1", sample_server.port), timeout=10) as sock:
            sock.sendall(
                b"POST /api/chat/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                + payload
            )
    with sample_server.client() as http:
        assert http.get("/api/health").status_code == 200
        with http.stream("POST", "/api/chat/stream", json=body) as response:
            response.read()
        assert [name for name, _ in read_sse(response)][-1] == "done"
    assert "Traceback" not in sample_server.log()


# --- bad input ----------------------------------------------------------------------------------------
def test_empty_and_blank_messages_are_rejected(client: httpx.Client) -> None:
    assert_error(client.post("/api/chat", json={"message": ""}), 422, "message_empty")
    assert_error(client.post("/api/chat", json={"message": "   "}), 422, "message_empty")
    assert_error(client.post("/api/chat", json={}), 422, "message_empty")
    assert_error(client.post("/api/chat/stream", json={"message": ""}), 422, "message_empty")


def test_message_length_limit_is_2000_characters(client: httpx.Client) -> None:
    error = assert_error(client.post("/api/chat", json={"message": "研" * 2001}), 422, "message_too_long")
    assert "2,000" in error["message"] and "文字" in error["message"]
    assert_error(client.post("/api/chat/stream", json={"message": "研" * 2001}), 422, "message_too_long")
    assert client.post("/api/chat", json={"message": "研修" * 1000}).status_code == 200


@pytest.mark.parametrize("as_of", ["2023-02-30", "令和5年", "tomorrow", "2023/9/1x"])
def test_invalid_dates_are_rejected(client: httpx.Client, as_of: str) -> None:
    assert_error(client.post("/api/chat", json={"message": "研修はいつ？", "as_of": as_of}), 422, "invalid_date")


def test_unknown_ward_lists_close_matches(client: httpx.Client) -> None:
    error = assert_error(
        client.post("/api/chat", json={"message": "研修はいつ？", "ward": "鶴見"}), 422, "unknown_ward"
    )
    assert "鶴見区" in error["message"]
    assert_error(
        client.post("/api/chat/stream", json={"message": "研修はいつ？", "ward": "札幌区"}), 422, "unknown_ward"
    )
    events = client.get("/api/records/events", params={"ward": "鶴見"})
    assert "鶴見区" in assert_error(events, 422, "unknown_ward")["message"]


def test_bodies_over_64_kb_are_rejected(client: httpx.Client) -> None:
    big = json.dumps({"message": "a" * (65 * 1024)}).encode()
    assert_error(
        client.post("/api/chat", content=big, headers={"Content-Type": "application/json"}), 413, "payload_too_large"
    )

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count the bytes it reads
        for offset in range(0, len(big), 8192):
            yield big[offset : offset + 8192]

    chunked = client.post("/api/chat", content=chunks(), headers={"Content-Type": "application/json"})
    assert_error(chunked, 413, "payload_too_large")


def test_wrong_content_type_and_bad_json(client: httpx.Client) -> None:
    plain = client.post(
        "/api/chat", content="北ブロックの研修会の講師は？".encode(), headers={"Content-Type": "text/plain"}
    )
    assert_error(plain, 415, "unsupported_media_type")
    form = client.post("/api/chat", data={"message": "講師は？"})
    assert_error(form, 415, "unsupported_media_type")
    bad = client.post("/api/chat", content='{"message": "講師'.encode(), headers={"Content-Type": "application/json"})
    assert_error(bad, 400, "invalid_json")
    assert_error(client.post("/api/chat", json=["講師は？"]), 422, "invalid_body")
    assert_error(client.post("/api/chat", json={"message": 42}), 422)
    assert_error(client.post("/api/chat", json={"message": "x", "conversation_id": "../../etc"}), 422)


def test_unknown_routes_and_methods_answer_json(client: httpx.Client) -> None:
    assert_error(client.get("/api/nothing"), 404, "not_found")
    assert_error(client.get("/api/chat"), 405)


# --- sources ------------------------------------------------------------------------------------------
def test_source_passage_with_surroundings(client: httpx.Client) -> None:
    answer = ChatAnswer.model_validate(
        client.post("/api/chat", json={"message": "北ブロックの研修会の講師は？"}).json()
    )
    citation = answer.citations[0]
    assert citation.chunk_id
    response = client.get(f"/api/sources/{citation.document_id}", params={"chunk": citation.chunk_id})
    source = SourcePassage.model_validate(response.json())
    assert source.document_id == citation.document_id and source.chunk_id == citation.chunk_id
    assert source.title and source.end - source.start == len(source.passage)
    assert 0 < len(source.after) <= 300 and len(source.before) <= 300
    first = SourcePassage.model_validate(client.get(f"/api/sources/{citation.document_id}").json())
    assert first.chunk_id and first.passage


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/sources/../../etc/passwd", 400),
        ("/api/sources/%2E%2E/%2E%2E/etc/passwd", 400),
        ("/api/sources/a/../osaka_r5_zaitaku_renkei_progress.txt", 400),
        ("/api/sources/%2Fetc%2Fpasswd", 400),
        ("/api/sources//etc/passwd", 400),
        ("/api/sources/C:%5Cwindows%5Cwin.ini", 400),
        ("/api/sources/etc/passwd", 404),
        ("/api/sources/no-such-document.txt", 404),
        ("/api/sources/osaka_r5_zaitaku_renkei_progress.txt?chunk=no-such-chunk", 404),
        ("/api/sources/osaka_r5_zaitaku_renkei_progress.txt?start=10&end=5", 400),
        ("/api/sources/osaka_r5_zaitaku_renkei_progress.txt?start=-1&end=5", 422),
    ],
)
def test_bad_source_requests(sample_server: Server, path: str, status: int) -> None:
    response = raw_get(sample_server, path)
    assert_error(response, status)
    assert "root:" not in response.text


def raw_get(server: Server, path: str) -> httpx.Response:
    """GET a path exactly as written (httpx would normalise dot segments away)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", path)
        raw = connection.getresponse()
        return httpx.Response(raw.status, headers=raw.getheaders(), content=raw.read())
    finally:
        connection.close()


# --- records ------------------------------------------------------------------------------------------
def test_wards_and_blocks(client: httpx.Client) -> None:
    wards = RecordList.model_validate(client.get("/api/records/wards").json())
    assert [ward["name"] for ward in wards.items] == list(WARDS)
    blocks = RecordList.model_validate(client.get("/api/records/blocks").json())
    assert blocks.count == 4
    assert {ward for block in blocks.items for ward in block["wards"]} == set(WARDS)


def test_event_filters(client: httpx.Client) -> None:
    everything = RecordList.model_validate(client.get("/api/records/events").json())
    trainings = client.get("/api/records/events", params={"kind": "block_training"}).json()
    assert 0 < trainings["count"] < everything.count
    assert {event["kind"] for event in trainings["items"]} == {"block_training"}
    tsurumi = client.get("/api/records/events", params={"ward": "鶴見区", "kind": "block_training"}).json()
    assert [event["date"] for event in tsurumi["items"]] == ["2023-09-29"]
    september = client.get("/api/records/events", params={"from": "2023-09-01", "to": "2023-09-30"}).json()
    assert september["count"] > 0 and all("2023-09-01" <= e["date"] <= "2023-09-30" for e in september["items"])
    upcoming = client.get("/api/records/events", params={"upcoming": "true", "as_of": "2023-09-20"}).json()
    assert all(event["date"] >= "2023-09-20" for event in upcoming["items"])
    assert client.get("/api/records/events", params={"upcoming": "true", "as_of": "2999-01-01"}).json()["count"] == 0
    assert_error(client.get("/api/records/events", params={"from": "2023-13-01"}), 422, "invalid_date")
    assert_error(client.get("/api/records/events", params={"kind": "party"}), 422, "unknown_kind")
    assert_error(client.get("/api/records/events", params={"block": "月ブロック"}), 422, "unknown_block")


def test_surveys(client: httpx.Client) -> None:
    surveys = RecordList.model_validate(client.get("/api/records/surveys").json())
    assert surveys.count > 0
    first = surveys.items[0]
    one = client.get(f"/api/records/surveys/{first['id']}")
    assert one.status_code == 200 and one.json() == first
    assert_error(client.get("/api/records/surveys/no-such-survey"), 404, "survey_not_found")


# --- admin --------------------------------------------------------------------------------------------
def wait_for_run(http: httpx.Client, run_id: str) -> IngestStatus:
    while True:
        response = http.get(f"/api/admin/ingest/{run_id}", headers=AUTH)
        assert response.status_code == 200, response.text
        status = IngestStatus.model_validate(response.json())
        if status.status != "running":
            return status
        time.sleep(0.2)


def test_admin_requires_the_bearer_token(client: httpx.Client) -> None:
    assert_error(client.post("/api/admin/ingest"), 401, "missing_token")
    assert_error(client.post("/api/admin/ingest", headers={"Authorization": "Basic abc"}), 401, "missing_token")
    assert_error(client.post("/api/admin/ingest", headers={"Authorization": "Bearer wrong"}), 401, "invalid_token")
    assert_error(client.post("/api/admin/ingest", headers={"Authorization": f"Bearer {ADMIN_TOKEN}x"}), 401)
    assert_error(client.get("/api/admin/ingest/anything"), 401)
    assert_error(client.get("/api/admin/ingest/no-such-run", headers=AUTH), 404, "run_not_found")


def test_admin_ingest_runs_in_the_background_and_reports(client: httpx.Client) -> None:
    response = client.post("/api/admin/ingest", headers=AUTH)
    assert response.status_code == 202, response.text
    started = response.json()
    assert set(started) == {"run_id", "status"} and started["status"] in ("running", "succeeded")
    status = wait_for_run(client, started["run_id"])
    assert status.status == "succeeded", status.error
    assert status.summary is not None and status.summary["unchanged"] >= 1 and status.summary["failed"] == 0
    assert status.report is not None and status.finished_at is not None
    assert client.get("/api/health").json()["documents"] == 1


def test_admin_is_disabled_without_a_token_and_chat_is_rate_limited(
    sample_deployment: Deployment, tmp_path: Path
) -> None:
    server = start_server(
        sample_deployment.copy_to(tmp_path), RENKEI_ADMIN_TOKEN=None, RENKEI_RATE_LIMIT_PER_MINUTE="3"
    )
    try:
        with server.client() as http:
            error = assert_error(http.post("/api/admin/ingest", headers=AUTH), 403, "admin_disabled")
            assert "RENKEI_ADMIN_TOKEN" in error["message"]
            assert_error(http.post("/api/admin/ingest"), 403, "admin_disabled")
            for _ in range(3):
                assert http.post("/api/chat", json={"message": "こんにちは"}).status_code == 200
            limited = http.post("/api/chat", json={"message": "こんにちは"})
            assert_error(limited, 429, "rate_limited")
            assert int(limited.headers["retry-after"]) >= 1
            assert http.get("/api/health").status_code == 200  # only chat is limited
    finally:
        server.stop()


NEW_DOCUMENT = """# 訪問歯科との連携メモ

## 連絡方法
訪問歯科診療の依頼は、区の在宅医療・介護連携相談支援室が受け付け、歯科医師会の窓口へ取り次ぎます。
"""


def test_admin_ingest_of_a_new_document_is_served_without_a_restart(
    sample_deployment: Deployment, tmp_path: Path
) -> None:
    deployment = sample_deployment.copy_to(tmp_path)
    server = start_server(deployment, RENKEI_ADMIN_TOKEN=ADMIN_TOKEN)
    try:
        with server.client() as http:
            with FileLock(deployment.data / "ingest.lock"):  # as if `renkei ingest` were running
                assert_error(http.post("/api/admin/ingest", headers=AUTH), 409, "ingest_running")
            (deployment.corpus / "dental_memo.md").write_text(NEW_DOCUMENT, encoding="utf-8")
            started = http.post("/api/admin/ingest", headers=AUTH, json={"full": True})
            assert started.status_code == 202
            status = wait_for_run(http, started.json()["run_id"])
            assert status.status == "succeeded", status.error
            assert status.summary is not None and status.summary["added"] == 1
            assert http.get("/api/health").json()["documents"] == 2
            answer = ChatAnswer.model_validate(
                http.post("/api/chat", json={"message": "訪問歯科診療の依頼はどこが受け付けますか"}).json()
            )
            assert "dental_memo.md" in {citation.document_id for citation in answer.citations}, answer.answer
    finally:
        server.stop()


def test_chat_keeps_answering_from_the_previous_index_while_an_ingest_runs(
    sample_deployment: Deployment, tmp_path: Path
) -> None:
    """The ingest pauses at its embedding stage (a test hook), so chat demonstrably runs during it."""
    deployment = sample_deployment.copy_to(tmp_path)
    (deployment.corpus / "dental_memo.md").write_text(NEW_DOCUMENT, encoding="utf-8")
    marker = tmp_path / "paused"
    server = start_server(deployment, paused_at=("embed", marker), RENKEI_ADMIN_TOKEN=ADMIN_TOKEN)
    try:
        with server.client() as http:
            started = http.post("/api/admin/ingest", headers=AUTH, json={"full": False})
            assert started.status_code == 202
            run_id = started.json()["run_id"]
            while not marker.exists():
                time.sleep(0.1)
            for message in ("北ブロックの研修会の講師は？", "多職種研修会の目的は何ですか"):
                answer = http.post("/api/chat", json={"message": message})
                assert answer.status_code == 200 and answer.json()["citations"]
            status = http.get(f"/api/admin/ingest/{run_id}", headers=AUTH).json()
            assert status["status"] == "running" and status["progress"]["stage"] == "embed"
            assert_error(http.post("/api/admin/ingest", headers=AUTH), 409, "ingest_running")
            assert http.get("/api/health").json()["documents"] == 1  # the previous index is still served
    finally:
        server.stop()
