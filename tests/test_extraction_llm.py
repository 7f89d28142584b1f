"""The optional LLM extraction pass against the fake OpenAI-compatible server of tests/test_llm.py:
every value the model gives must be in the text it quotes, else it is dropped."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from knowledge.config import LlmSettings
from knowledge.database import open_database
from records.drafts import merge_proposals, propose_for_document
from records.extraction import extract_proposals
from records.extraction_llm import LLM_CONFIDENCE, llm_proposals, locate, passages
from records.models import RecordDraft
from tests.test_llm import FakeChatServer, fake, server_instance  # noqa: F401 - the fake server fixtures

DOC_ID = "reports/ikuno.txt"
# The rule-based patterns find the labelled event, not the one whose date a PDF line break splits (no
# fiscal year to complete 「１０月３日」 with).
REPORT = """生野区 在宅医療・介護連携 報告

【日 時】令和6年7月10日（水） 14:00～16:30
【場 所】生野区民センター

多職種研修会について
本研修会は令和６年
１０月３日（木）に、１３時３０分～１５時まで、
生野区役所５階会議室で開催し、講師は 生野診療所 院長 鈴木 一郎 先生、
ケアマネジャー 18名が参加した。
"""
PROSE = "令和６年\n１０月３日（木）に、１３時３０分～１５時まで、\n生野区役所５階会議室で開催し、講師は 生野診療所 院長 鈴木 一郎 先生、\nケアマネジャー 18名が参加した。"


def _event(quote: str, **values: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "quote": quote, "title": None, "date": None, "start_time": None, "end_time": None, "venue": None,
        "lecturer_name": None, "lecturer_affiliation": None, "participants": [],
    }  # fmt: skip
    return event | values


def _reply(*events: dict[str, Any]) -> str:
    return json.dumps({"events": list(events)}, ensure_ascii=False)


GOOD = _event(
    PROSE.replace("\n", " "),  # the model joined the lines: found ignoring whitespace
    title="多職種研修会", date="令和6年10月3日", start_time="13:30", end_time="15:00", venue="生野区役所５階会議室",
    lecturer_name="鈴木 一郎", lecturer_affiliation="生野診療所",
    participants=[{"group": "ケアマネジャー", "count": 18}],
)  # fmt: skip


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_database(f"sqlite:///{tmp_path / 'drafts.sqlite3'}")
    yield engine
    engine.dispose()


def _settings(base_url: str | None) -> LlmSettings:
    return LlmSettings(base_url=base_url, model="fake-model", api_key=None)


def _down_url() -> str:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def _drafts(engine: Engine) -> list[RecordDraft]:
    with Session(engine) as session:
        return list(session.scalars(select(RecordDraft).order_by(RecordDraft.span_start)))


# --- (a) a correct event --------------------------------------------------------------------------


def test_a_correct_event_is_kept_with_its_span_and_values_as_written(fake: FakeChatServer) -> None:
    fake.reply = _reply(GOOD)
    [proposal] = llm_proposals(DOC_ID, REPORT, _settings(fake.base_url))
    assert REPORT[proposal.start : proposal.end] == proposal.quote == PROSE
    assert proposal.values == {
        "date": "令和６年\n１０月３日",
        "time": "１３時３０分～１５時",
        "venue": "生野区役所５階会議室",
        "lecturer": {"name": "鈴木 一郎", "affiliation": "生野診療所"},
        "participants": [{"group": "ケアマネジャー", "count": 18}],
    }
    assert proposal.context["title"] == "多職種研修会"
    start, end = proposal.context_spans["title"]
    assert REPORT[start:end] == "多職種研修会"
    assert proposal.context["kind"] == "multi_professional_training"
    assert proposal.confidence == LLM_CONFIDENCE < min(p.confidence for p in extract_proposals(DOC_ID, REPORT))
    assert proposal.pattern == "llm"
    [request] = fake.requests
    assert request["model"] == "fake-model"
    assert request["response_format"]["type"] == "json_schema"
    assert PROSE in request["messages"][1]["content"]


# --- (b) invented values --------------------------------------------------------------------------


def test_values_not_in_the_quote_are_dropped(fake: FakeChatServer) -> None:
    invented = GOOD | {
        "venue": "中央区民センター", "lecturer_affiliation": "大阪大学", "start_time": "10:00",
        "title": "合同研修会",
        "participants": [{"group": "ケアマネジャー", "count": 81}, {"group": "看護師", "count": 5}],
    }  # fmt: skip
    fake.reply = _reply(invented)
    [proposal] = llm_proposals(DOC_ID, REPORT, _settings(fake.base_url))
    assert proposal.values == {"date": "令和６年\n１０月３日", "lecturer": {"name": "鈴木 一郎"}}
    assert "title" not in proposal.context and proposal.context["kind"] == "other"


def test_an_event_whose_date_is_not_in_its_quote_is_dropped(fake: FakeChatServer) -> None:
    fake.reply = _reply(GOOD | {"date": "2024-10-04"}, _event("生野区民センター", date="令和6年7月10日"))
    assert llm_proposals(DOC_ID, REPORT, _settings(fake.base_url)) == []


# --- (c) a quote that is not in the document ------------------------------------------------------


def test_a_quote_not_in_the_document_drops_the_proposal(fake: FakeChatServer) -> None:
    made_up = "令和６年１０月３日（木）に、中央区民センターで開催した。"
    fake.reply = _reply(_event(made_up, date="令和6年10月3日", venue="中央区民センター"), GOOD)
    [proposal] = llm_proposals(DOC_ID, REPORT, _settings(fake.base_url))
    assert proposal.quote == PROSE


def test_a_reply_that_is_not_the_schema_gives_nothing(fake: FakeChatServer) -> None:
    fake.reply = "研修会は10月3日です。"
    assert llm_proposals(DOC_ID, REPORT, _settings(fake.base_url)) == []


# --- (d) server down ------------------------------------------------------------------------------


def test_server_down_gives_nothing_and_leaves_the_rule_based_drafts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(_down_url())
    assert llm_proposals(DOC_ID, REPORT, settings) == []
    assert "LLM extraction of reports/ikuno.txt failed" in caplog.text
    with_llm = open_database(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    without = open_database(f"sqlite:///{tmp_path / 'b.sqlite3'}")
    try:
        added = propose_for_document(with_llm, DOC_ID, REPORT, settings)
        assert added == propose_for_document(without, DOC_ID, REPORT) > 0
        assert [d.quote for d in _drafts(with_llm)] == [d.quote for d in _drafts(without)]
    finally:
        with_llm.dispose()
        without.dispose()


def test_timeout_gives_nothing(fake: FakeChatServer) -> None:
    fake.reply, fake.delay = _reply(GOOD), 2.0
    assert llm_proposals(DOC_ID, REPORT, _settings(fake.base_url), timeout=0.3) == []


# --- (e) no LLM configured ------------------------------------------------------------------------


def test_no_llm_configured_makes_no_request(fake: FakeChatServer, engine: Engine) -> None:
    fake.reply = _reply(GOOD)
    assert llm_proposals(DOC_ID, REPORT, _settings(None)) == []
    assert llm_proposals(DOC_ID, REPORT, None) == []
    assert propose_for_document(engine, DOC_ID, REPORT, _settings(None)) == len(extract_proposals(DOC_ID, REPORT))
    assert fake.requests == []


# --- the ingest hook ------------------------------------------------------------------------------


def test_drafts_add_the_llm_event_and_skip_its_repeat_of_a_rule_based_one(fake: FakeChatServer, engine: Engine) -> None:
    rule_based = extract_proposals(DOC_ID, REPORT)
    assert [p.values["date"] for p in rule_based] == ["令和6年7月10日（水）"]
    repeat = _event("【日 時】令和6年7月10日（水） 14:00～16:30", date="令和6年7月10日", start_time="14:00")
    fake.reply = _reply(repeat, GOOD)
    assert propose_for_document(engine, DOC_ID, REPORT, _settings(fake.base_url)) == 2
    drafts = _drafts(engine)
    assert [(d.pattern, d.values["date"]) for d in drafts] == [
        ("dated_region", "令和6年7月10日（水）"), ("llm", "令和６年\n１０月３日"),
    ]  # fmt: skip
    assert drafts[1].quote == PROSE and drafts[1].confidence == LLM_CONFIDENCE
    assert propose_for_document(engine, DOC_ID, REPORT, _settings(fake.base_url)) == 0  # re-ingest adds nothing


def test_merge_keeps_a_new_start_time_on_a_known_day_and_drops_an_untimed_repeat(fake: FakeChatServer) -> None:
    rule_based = extract_proposals(DOC_ID, REPORT)
    other_session = _event("【日 時】令和6年7月10日（水） 14:00～16:30", date="令和6年7月10日", start_time="16:30")
    untimed = _event("令和6年7月10日（水）", date="令和6年7月10日")
    fake.reply = _reply(untimed, other_session)
    from_llm = llm_proposals(DOC_ID, REPORT, _settings(fake.base_url))
    assert len(from_llm) == 2
    assert "time" not in from_llm[1].values  # 16:30 starts no range in the quote
    assert merge_proposals(rule_based, from_llm) == rule_based


# --- passages and quotes --------------------------------------------------------------------------


def test_passages_cover_the_text_in_order_within_the_limit() -> None:
    text = "\n\n".join(f"段落{i}：" + "あ" * 300 for i in range(20))
    parts = passages(text, max_chars=1000)
    assert all(len(p.text) <= 1000 for p in parts) and len(parts) > 1
    assert "".join(p.text for p in parts) == text
    assert all(text[p.start : p.start + len(p.text)] == p.text for p in parts)


@pytest.mark.parametrize(
    ("needle", "expected"),
    [
        ("生野区民センター", "生野区民センター"),
        ("10月3日(木)に、13時30分", "１０月３日（木）に、１３時３０分"),  # NFKC width
        ("令和6年10月3日", "令和６年\n１０月３日"),  # a line break the model dropped
    ],
)
def test_locate_finds_a_quote_exactly_or_ignoring_width_and_whitespace(needle: str, expected: str) -> None:
    span = locate(needle, REPORT)
    assert span is not None and REPORT[span[0] : span[1]] == expected


def test_locate_misses_text_that_is_not_there() -> None:
    assert locate("中央区民センター", REPORT) is None
    assert locate("   ", REPORT) is None
