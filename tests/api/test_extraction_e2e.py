"""End to end: a new town's report is ingested by a running server, its drafts are accepted over the admin API
without typing a field, and questions over HTTP are answered from the new records with a citation to the
passage they were read from."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.server import ADMIN_TOKEN, Deployment, Server, start_server

pytestmark = pytest.mark.slow

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
DOCUMENT = "watari_r6_kenshu.txt"
# Written for this test: prose with month-day dates (the year comes from 令和6年度), a page-update line
# and a deadline that are not events.
REPORT = """亘理町 在宅医療・介護連携 研修会のご案内と報告

令和6年度の取組み
更新日：2024年12月20日

令和6年度の第1回多職種研修会を、11月22日（金）、亘理町保健福祉センターを会場に開催しました。
講師に亘理中央クリニック 院長 菊地 直樹 氏を迎え、看取りの事例をもとに学びました。
当日は医療職21名・介護職35名・行政7名の計63名の参加がありました。

第2回の研修会は、令和7年2月14日（金）14時～16時に亘理町中央公民館で開催します。
申込締切：令和7年2月7日（金）
"""
AS_OF = "2025-01-10"  # after the first training, before the second


def _ingest(client: httpx.Client) -> None:
    run = client.post("/api/admin/ingest", headers=AUTH)
    assert run.status_code == 202, run.text
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = client.get(f"/api/admin/ingest/{run.json()['run_id']}", headers=AUTH).json()
        if status["status"] not in ("queued", "running"):
            assert status["status"] == "succeeded", status
            return
        time.sleep(0.5)
    raise AssertionError("ingest did not finish")


def _accept_new_drafts(client: httpx.Client) -> dict[str, dict[str, Any]]:
    """Accept every draft of the new report as proposed (no field typed); records by date."""
    drafts = client.get("/api/admin/drafts", headers=AUTH, params={"document_id": DOCUMENT}).json()["drafts"]
    records: dict[str, dict[str, Any]] = {}
    for draft in drafts:
        accepted = client.post(f"/api/admin/drafts/{draft['id']}/accept", headers=AUTH)
        assert accepted.status_code == 200, accepted.text
        records[accepted.json()["record"]["date"]] = accepted.json()["record"]
    return records


@pytest.fixture(scope="module")
def accepted(
    sample_deployment: Deployment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, dict[str, Any]]]:
    """A server over a copy of the sample, after the new report was ingested and its drafts accepted."""
    deployment = sample_deployment.copy_to(tmp_path_factory.mktemp("e2e") / "deployment")
    server = start_server(deployment, RENKEI_ADMIN_TOKEN=ADMIN_TOKEN)
    try:
        (deployment.corpus / DOCUMENT).write_text(REPORT, encoding="utf-8")
        with server.client() as client:
            _ingest(client)
            records = _accept_new_drafts(client)
        yield server, records
    finally:
        server.stop()


def _ask(server: Server, message: str) -> dict[str, Any]:
    with server.client() as client:
        response = client.post("/api/chat", json={"message": message, "as_of": AS_OF})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _cites(answer: dict[str, Any], text: str) -> bool:
    return any(c["document_id"] == DOCUMENT and text in c["snippet"] for c in answer["citations"])


def test_accepted_drafts_of_a_new_report_are_complete_records(accepted: tuple[Server, dict[str, Any]]) -> None:
    server, events = accepted
    assert sorted(events) == ["2024-11-22", "2025-02-14"]  # no update date, no deadline
    first, second = events["2024-11-22"], events["2025-02-14"]
    assert (first["area"], first["venue"], first["kind"]) == (
        "亘理町",
        "亘理町保健福祉センター",
        "multi_professional_training",
    )
    assert first["title"] == "第1回多職種研修会" and "補った" in first["note"]  # the year was inferred
    assert first["lecturer"] == {"name": "菊地 直樹", "title": "院長", "affiliation": "亘理中央クリニック"}
    assert [(p["group"], p["count"]) for p in first["participants"]] == [
        ("医療職", 21),
        ("介護職", 35),
        ("行政", 7),
        ("計", 63),
    ]
    assert "亘理町保健福祉センター" in first["source"]["quote"] and first["source"]["document_id"] == DOCUMENT
    assert (second["area"], second["venue"], second["start_time"], second["end_time"]) == (
        "亘理町",
        "亘理町中央公民館",
        "14:00",
        "16:00",
    )
    with server.client() as client:
        listed = client.get("/api/records/events", params={"area": "亘理町"}).json()
    assert [e["id"] for e in listed["items"]] == [first["id"], second["id"]]


def test_questions_are_answered_from_the_accepted_records(accepted: tuple[Server, dict[str, Any]]) -> None:
    server, events = accepted
    first, second = events["2024-11-22"], events["2025-02-14"]
    where = _ask(server, "亘理町の研修会はどこで？")
    assert first["id"] in {r["id"] for r in where["records"]}, where
    assert "亘理町保健福祉センター" in where["answer"] and _cites(where, "亘理町保健福祉センター"), where
    upcoming = _ask(server, "亘理町の次の研修は？")
    assert [r["id"] for r in upcoming["records"]][:1] == [second["id"]], upcoming
    assert "亘理町中央公民館" in upcoming["answer"] and _cites(upcoming, "令和7年2月14日（金）"), upcoming
