"""Feedback, content gaps, the CSV export and the conversation history over HTTP against a real server."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.support.admin import AUTH, FEEDBACK_PER_MINUTE, client_from
from tests.support.paths import REPO
from tests.support.server import Server

REFUSED = ("札幌市の介護保険料はいくら？", "札幌市の介護保険料はいくらですか")
OTHER_REFUSED = "東京都の防災計画の予算は？"
ANSWERED = "北ブロックの研修会の講師は？"


def ask(client: httpx.Client, message: str, conversation_id: str | None = None) -> dict[str, Any]:
    body = {"message": message, **({"conversation_id": conversation_id} if conversation_id else {})}
    response = client.post("/api/chat", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def last_turn(client: httpx.Client, conversation_id: str) -> dict[str, Any]:
    turns: list[dict[str, Any]] = client.get(f"/api/conversations/{conversation_id}").json()["turns"]
    return turns[-1]


@pytest.fixture(scope="module")
def rated(loop_server: Server) -> dict[str, Any]:
    """Two similar refusals, another refusal, an answered question rated 👎 (古い) and a follow-up rated 👍."""
    with client_from(loop_server, "127.0.0.11") as client:
        refused = [ask(client, question) for question in REFUSED]
        other = ask(client, OTHER_REFUSED)
        answered = ask(client, ANSWERED)
        ask(client, "会場は？", answered["conversation_id"])
        assert [a["intent"] for a in (*refused, other)] == ["out_of_scope"] * 3
        assert answered["citations"] and answered["intent"] != "out_of_scope"
        cited = [{"document_id": c["document_id"], "chunk_id": c["chunk_id"]} for c in answered["citations"]]
        down_turn = client.get(f"/api/conversations/{answered['conversation_id']}").json()["turns"][0]["turn"]
        down = client.post(
            "/api/feedback",
            json={
                "conversation_id": answered["conversation_id"],
                "turn": down_turn,
                "rating": "down",
                "reason": "outdated",
                "comment": "令和６年度の講師に変わっています",
                "citations": cited,
            },
        )
        assert down.status_code == 201, down.text
        up_turn = last_turn(client, answered["conversation_id"])["turn"]
        up = client.post(
            "/api/feedback", json={"conversation_id": answered["conversation_id"], "turn": up_turn, "rating": "up"}
        )
        assert up.status_code == 201, up.text
    return {
        "refused": refused,
        "other": other,
        "answered": answered,
        "cited": cited,
        "down_turn": down_turn,
        "up_turn": up_turn,
    }


def test_feedback_is_stored_with_the_turn_it_rates(loop_server: Server, rated: dict[str, Any]) -> None:
    conversation_id = rated["answered"]["conversation_id"]
    with loop_server.client() as client:
        conversation = client.get(f"/api/conversations/{conversation_id}").json()
    assert conversation["title"] == ANSWERED
    assert [t["question"] for t in conversation["turns"]] == [ANSWERED, "会場は？"]
    assert [t["rating"] for t in conversation["turns"]] == ["down", "up"]
    assert conversation["turns"][0]["answer"] == rated["answered"]["answer"]


def test_rating_again_replaces_the_earlier_rating(loop_server: Server, rated: dict[str, Any]) -> None:
    conversation_id = rated["other"]["conversation_id"]
    with client_from(loop_server, "127.0.0.12") as client:
        turn = last_turn(client, conversation_id)["turn"]
        for rating in ("up", "down"):
            body = {"conversation_id": conversation_id, "turn": turn, "rating": rating, "reason": "incomplete"}
            stored = client.post("/api/feedback", json=body).json()["feedback"]
            assert stored["rating"] == rating and stored["question"] == OTHER_REFUSED
            assert stored["reason"] == ("incomplete" if rating == "down" else None)  # a 👍 has no reason
            assert stored["settings"] == {"embedding_model": "hashing-char-1-3gram", "llm": False, "llm_model": None}
        assert last_turn(client, conversation_id)["rating"] == "down"


BAD_FEEDBACK = [
    pytest.param({"conversation_id": None}, 422, "missing_field", id="no-conversation"),
    pytest.param({"rating": "meh"}, 422, "validation_error", id="unknown-rating"),
    pytest.param({"reason": "boring"}, 422, "validation_error", id="unknown-reason"),
    pytest.param({"comment": "あ" * 1001}, 422, "validation_error", id="comment-too-long"),
    pytest.param({"comment": "ok\x00"}, 422, "invalid_characters", id="control-character"),
    pytest.param(
        {"citations": [{"document_id": "a.txt", "chunk_id": "x"}] * 21},
        422,
        "validation_error",
        id="too-many-citations",
    ),
    pytest.param(
        {"citations": [{"document_id": "a.txt", "chunk_id": "../x"}]}, 422, "validation_error", id="bad-chunk-id"
    ),
    pytest.param({"extra": 1}, 422, "validation_error", id="unknown-field"),
    pytest.param({"turn": 999_999}, 404, "turn_not_found", id="unknown-turn"),
    pytest.param({"conversation_id": "0" * 32}, 404, "turn_not_found", id="unknown-conversation"),
    pytest.param({"conversation_id": "../../etc"}, 422, "validation_error", id="path-like-conversation"),
]


@pytest.mark.parametrize(("change", "status", "code"), BAD_FEEDBACK)
def test_bad_feedback_gets_a_clear_error(
    loop_server: Server,
    rated: dict[str, Any],
    change: dict[str, Any],
    status: int,
    code: str,
    request: pytest.FixtureRequest,
) -> None:
    conversation_id = rated["refused"][0]["conversation_id"]
    case = [param.id for param in BAD_FEEDBACK].index(request.node.callspec.id)
    with client_from(loop_server, f"127.0.1.{case + 1}") as client:  # refused posts count against the budget too
        body = {
            "conversation_id": conversation_id,
            "turn": last_turn(client, conversation_id)["turn"],
            "rating": "down",
            **change,
        }
        body = {key: value for key, value in body.items() if value is not None}  # None: leave the field out
        response = client.post("/api/feedback", json=body)
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
        assert last_turn(client, conversation_id)["rating"] is None  # nothing was stored


def test_feedback_is_rate_limited_per_client(loop_server: Server, rated: dict[str, Any]) -> None:
    conversation_id = rated["refused"][1]["conversation_id"]
    with client_from(loop_server, "127.0.0.14") as client:
        turn = last_turn(client, conversation_id)["turn"]
        body = {"conversation_id": conversation_id, "turn": turn, "rating": "down"}
        statuses = [client.post("/api/feedback", json=body).status_code for _ in range(FEEDBACK_PER_MINUTE + 1)]
        assert statuses == [201] * FEEDBACK_PER_MINUTE + [429]
        limited = client.post("/api/feedback", json=body)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert "リクエストが多すぎます" in limited.json()["error"]["message"]
        assert client.post("/api/chat", json={"message": "こんにちは"}).status_code == 200  # chat has its own budget
    with client_from(loop_server, "127.0.0.15") as other:
        assert other.post("/api/feedback", json=body).status_code == 201


def _group_of(view: dict[str, Any], conversation_id: str) -> dict[str, Any]:
    return next(g for g in view["groups"] if any(i["conversation_id"] == conversation_id for i in g["items"]))


def test_the_admin_sees_content_gaps_grouped_by_similar_question(loop_server: Server, rated: dict[str, Any]) -> None:
    with loop_server.client() as client:
        view = client.get("/api/admin/feedback", headers=AUTH).json()
        sapporo = _group_of(view, rated["refused"][0]["conversation_id"])
        ids = {item["conversation_id"] for item in sapporo["items"]}
        assert {a["conversation_id"] for a in rated["refused"]} <= ids
        assert rated["other"]["conversation_id"] not in ids
        assert sapporo["count"] == sapporo["refusals"] == 2 and sapporo["question"] in REFUSED
        assert datetime.fromisoformat(sapporo["last_seen"]) <= datetime.now(UTC)

        training = _group_of(view, rated["answered"]["conversation_id"])
        down = next(i for i in training["items"] if i["conversation_id"] == rated["answered"]["conversation_id"])
        assert down["kind"] == "down" and down["reason_label"] == "古い" and not down["refused"]
        assert down["comment"] == "令和６年度の講師に変わっています" and down["question"] == ANSWERED
        assert down["citations"] == rated["cited"]
        cited = down["citations"][0]
        passage = client.get(f"/api/sources/{cited['document_id']}", params={"chunk": cited["chunk_id"]})
        assert passage.status_code == 200 and passage.json()["chunk_id"] == cited["chunk_id"]
        assert view["totals"]["up"] >= 1 and view["totals"]["down"] >= 1 and view["totals"]["refused"] >= 3


def _csv_rows(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def test_csv_export_over_http_and_from_the_command_line(loop_server: Server, rated: dict[str, Any]) -> None:
    with loop_server.client() as client:
        response = client.get("/api/admin/feedback.csv", headers=AUTH)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = _csv_rows(response.content.decode("utf-8"))
    down = next(
        r
        for r in rows
        if r["conversation_id"] == rated["answered"]["conversation_id"] and r["turn"] == str(rated["down_turn"])
    )
    assert (down["kind"], down["rating"], down["reason"]) == ("rating", "役に立たなかった", "古い")
    assert down["question"] == ANSWERED and down["citations"].split(" ")[0] == "{document_id}#{chunk_id}".format(
        **rated["cited"][0]
    )
    assert down["group"] and down["llm"] == "False"
    refusal = next(r for r in rows if r["conversation_id"] == rated["refused"][0]["conversation_id"])
    assert refusal["kind"] == "refusal" and refusal["question"] == REFUSED[0] and refusal["group"]

    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "feedback", "export"],
        cwd=REPO,
        env=loop_server.env,
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()
    exported = _csv_rows(result.stdout.decode("utf-8"))
    key = ("conversation_id", "turn", "kind", "rating", "reason", "question", "group")
    assert {tuple(r[k] for k in key) for r in exported} == {tuple(r[k] for k in key) for r in rows}


def test_conversation_history_errors(loop_server: Server) -> None:
    with loop_server.client() as client:
        missing = client.get(f"/api/conversations/{'f' * 32}")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "conversation_not_found"
        assert client.get("/api/conversations/bad%20id").status_code == 422


def test_labels_name_every_code_the_page_shows(loop_server: Server) -> None:
    with loop_server.client() as client:
        labels = client.get("/api/labels").json()
    assert labels["file_status"]["added"] == "追加" and labels["file_status"]["unchanged"] == "変更なし"
    assert labels["event_kinds"]["other"] == "その他" and labels["stages"]["extract"] == "記録候補の抽出"
    assert list(labels["feedback_reasons"].values()) == ["間違い", "出典が違う", "古い", "不足", "その他"]
