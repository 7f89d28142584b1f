"""``POST /api/admin/drafts/accept-all``: accept every pending draft at or above a confidence (admin token)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from knowledge.database import open_database
from records.drafts import propose_for_document
from records.models import Event, RecordDraft
from tests.support.drafts_app import drafts_app

TOKEN = "accept-all-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DOC_ID = "reports/r6_trainings.md"

# A fully described training (high confidence), one naming a block no record defines (high confidence,
# but cannot be accepted) and a date-only announcement (low confidence).
REPORT = """# 令和６年度 研修会の記録

## 多職種連携研修会

【日 時】 令和６年９月10日（火）14：00～16：00
【場 所】 北区民センター
講師：北野病院 地域医療連携室長 北野 一郎 氏

## ブロック別の開催日程

| ブロック | 日時 | 会場 | 講師 |
|---|---|---|---|
| 北ブロック | 2024年11月5日（火） 13:30～15:00 | 都島区民センター | 都島病院 院長 都島 花子 先生 |

## お知らせ

日時：令和６年12月３日（火）
"""


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_database(f"sqlite:///{tmp_path / 'drafts.sqlite3'}")
    propose_for_document(engine, DOC_ID, REPORT)
    yield engine
    engine.dispose()


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(drafts_app(engine, TOKEN)) as test_client:
        yield test_client


def _draft_ids(client: TestClient) -> dict[str, int]:
    """Pending draft ids by venue, or by date for a draft without one."""
    drafts = client.get("/api/admin/drafts", headers=AUTH).json()["drafts"]
    return {d["values"].get("venue") or d["values"]["date"]: d["id"] for d in drafts}


def _statuses(engine: Engine) -> dict[int, str]:
    with Session(engine) as session:
        return {draft.id: draft.status for draft in session.scalars(select(RecordDraft))}


def test_accept_all_accepts_the_confident_drafts_and_reports_the_ones_it_could_not(
    client: TestClient, engine: Engine
) -> None:
    ids = _draft_ids(client)
    assert set(ids) == {"北区民センター", "都島区民センター", "令和６年12月３日（火）"}

    response = client.post("/api/admin/drafts/accept-all", json={"min_confidence": 0.9}, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == [ids["北区民センター"]]
    assert [f["id"] for f in body["failed"]] == [ids["都島区民センター"]]
    assert "北ブロック" in body["failed"][0]["reason"]
    assert body["counts"] == {"accepted": 1, "failed": 1}
    assert _statuses(engine) == {
        ids["北区民センター"]: "accepted", ids["都島区民センター"]: "pending", ids["令和６年12月３日（火）"]: "pending",
    }  # fmt: skip
    with Session(engine) as session:
        assert [e.venue for e in session.scalars(select(Event))] == ["北区民センター"]

    lower = client.post("/api/admin/drafts/accept-all", json={"min_confidence": 0.5}, headers=AUTH).json()
    assert lower["accepted"] == [ids["令和６年12月３日（火）"]]
    assert lower["counts"] == {"accepted": 1, "failed": 1}


def test_accept_all_requires_the_token_and_a_confidence_between_0_and_1(client: TestClient, engine: Engine) -> None:
    assert client.post("/api/admin/drafts/accept-all", json={"min_confidence": 0.0}).status_code == 401
    wrong = {"Authorization": "Bearer wrong"}
    assert client.post("/api/admin/drafts/accept-all", json={"min_confidence": 0.0}, headers=wrong).status_code == 401
    for body in ({"min_confidence": 1.5}, {"min_confidence": -0.1}, {}):
        assert client.post("/api/admin/drafts/accept-all", json=body, headers=AUTH).status_code == 422, body
    assert set(_statuses(engine).values()) == {"pending"}
