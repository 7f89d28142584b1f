"""Record proposals extracted from documents: patterns, spans, drafts, review (CLI and API), eval."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api.bench.extraction_eval import run_extraction_eval
from api.cli.records import app as records_cli
from knowledge.config import get_settings
from knowledge.database import open_database
from records.drafts import propose_for_document
from records.extraction import Proposal, extract_proposals, parse_lecturer, parse_participants
from records.loader import sync_record_files
from records.models import Event, RecordDraft
from records.review import ReviewError, accept_draft, dump_record_file, export_records, reject_draft
from tests.support.databases import SAMPLE_TEXT, copy_sample_corpus
from tests.support.drafts_app import drafts_app

SAMPLE = SAMPLE_TEXT.read_text(encoding="utf-8")
DOC_ID = "sample/osaka_r5_zaitaku_renkei_progress.txt"
TOKEN = "s3cret-admin-token"

MARKDOWN_REPORT = """# 令和6年度 浪速区 多職種研修会 実施報告

## 開催概要

| 項目 | 内容 |
|---|---|
| 日時 | 令和6年7月10日（水） 14:00～16:30 |
| 場所 | 浪速区民センター |
| 講師 | 医療法人 春風会 なにわ在宅クリニック 院長 山田 太郎 先生 |
| 参加者 | 医師 12名、看護師 20名 合計 32名 |

## ブロック別の開催日程

| ブロック | 日時 | 会場 | 講師 |
|---|---|---|---|
| 北ブロック | 2024年11月5日（火） 13:30～15:00 | 北区民センター | 北野病院 院長 北野 一郎 先生 |
| 南ブロック | 2024/11/12 10:00～12:00 | 平野区民ホール | 平野診療所 所長 平野 花子 先生 |

## アンケート結果

回収数 30件（回収率 93.8%）
"""

NO_EVENTS = """# 在宅医療・介護連携の考え方

医療と介護の両方を必要とする高齢者が、住み慣れた地域で暮らし続けられるよう、
多職種が連携して支援する体制づくりを進めています。

・ACPの普及啓発
・連携ツールの活用
"""


def _one(proposals: list[Proposal], **values: object) -> Proposal:
    found = [p for p in proposals if all(p.values.get(k) == v for k, v in values.items())]
    assert len(found) == 1, [p.values for p in proposals]
    return found[0]


# ---------------------------------------------------------------- pattern families


@pytest.mark.parametrize(
    ("line", "date"),
    [
        ("【日 時】 令和５年６月29日（木）", "令和５年６月29日（木）"),
        ("日時：令和元年5月1日（水）", "令和元年5月1日（水）"),
        ("日時：平成30年11月10日", "平成30年11月10日"),
        ("日時：2023-09-19", "2023-09-19"),
        ("日時：2023年9月19日", "2023年9月19日"),
        ("日時：R5.9.19", "R5.9.19"),
    ],
)
def test_date_patterns(line: str, date: str) -> None:
    proposal = _one(extract_proposals("d.txt", f"研修会\n\n{line}\n"), date=date)
    assert proposal.kind == "event"


def test_a_date_with_a_wrong_weekday_is_not_proposed() -> None:
    assert extract_proposals("d.txt", "日時：令和５年９月19日（水）\n") == []


@pytest.mark.parametrize("time", ["14：00～17：00", "14:00~17:00", "14時～15時15分", "15時30分～17時", "9時半-12時"])
def test_time_range_patterns(time: str) -> None:
    proposal = _one(extract_proposals("d.txt", f"研修会\n\n日時：令和５年９月19日（火） {time}\n"))
    assert proposal.values["time"] == time


@pytest.mark.parametrize(
    ("label_line", "field", "expected"),
    [
        ("【場 所】 福島区民センター", "venue", "福島区民センター"),
        ("場所：港区民センター", "venue", "港区民センター"),
        ("会場：住吉区民センター", "venue", "住吉区民センター"),
        ("対象：区担当者", "audience", "区担当者"),
        (
            "講師：一般社団法人 会議ファシリテーター普及協会 代表 釘山 健一氏",
            "lecturer",
            {"name": "釘山 健一", "title": "代表", "affiliation": "一般社団法人 会議ファシリテーター普及協会"},
        ),
        (
            "参加者：新任コーディネーター ９名（１年目）",
            "participants",
            [{"group": "新任コーディネーター", "count": 9}],
        ),
    ],
)
def test_labelled_field_patterns(label_line: str, field: str, expected: object) -> None:
    text = f"研修会の開催\n\n【日 時】 令和５年６月29日（木）14時～17時\n\n{label_line}\n"
    proposal = _one(extract_proposals("d.txt", text))
    assert proposal.values[field] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("医療法人 学縁会 おおさか往診クリニック 理事長 田村 学 先生",
         {"name": "田村 学", "title": "理事長", "affiliation": "医療法人 学縁会 おおさか往診クリニック"}),
        ("東成区医師会 在宅医療・介護連携相談支援室 黒田和子氏",
         {"name": "黒田和子", "affiliation": "東成区医師会 在宅医療・介護連携相談支援室"}),
    ],
)  # fmt: skip
def test_lecturer_parsing(text: str, expected: dict[str, str]) -> None:
    assert parse_lecturer(text) == expected


def test_participant_counts_with_subsets_and_breakdowns() -> None:
    rows = parse_participants(
        "区担当者43名（うち新任者30名）\n（職種内訳：事務職24名、保健師18名、その他１名)\n合計 71名"
    )
    assert rows == [
        {"group": "区担当者", "count": 43},
        {"group": "新任者", "count": 30, "subset_of": "区担当者"},
        {"group": "事務職", "count": 24, "subset_of": "区担当者"},
        {"group": "保健師", "count": 18, "subset_of": "区担当者"},
        {"group": "その他", "count": 1, "subset_of": "区担当者"},
        {"group": "合計", "count": 71},
    ]


@pytest.mark.parametrize(
    ("line", "responses", "rate"),
    [
        ("第1部アンケート結果 アンケート回収数40（回収率93％）", 40, 93.0),
        ("アンケート結果 【回収数】 54名 (回収率91.5％）", 54, 91.5),
        ("回収数：１２０件 回収率：８０．５％", 120, 80.5),
    ],
)
def test_survey_patterns(line: str, responses: int, rate: float) -> None:
    proposal = _one(extract_proposals("d.txt", f"{line}\n"))
    assert proposal.kind == "survey"
    assert (proposal.values["responses"], proposal.values["response_rate"]) == (responses, rate)


def test_survey_chart_option_counts() -> None:
    text = "アンケート回収数40（回収率93％）\n\n24 14 2\n活かせる\nやや活かせる\nあまり活かせない\n活かせない\n\n今後の業務に活用できそ\nうですか\n"
    proposal = _one(extract_proposals("d.txt", text))
    assert proposal.values["questions"] == [
        {
            "text": "今後の業務に活用できそうですか",
            "options": [
                {"label": "活かせる", "count": 24}, {"label": "やや活かせる", "count": 14},
                {"label": "あまり活かせない", "count": 2}, {"label": "活かせない"},
            ],
        }
    ]  # fmt: skip


def test_inline_block_membership() -> None:
    proposal = _one(extract_proposals("d.txt", "北ブロック：北区、都島区、淀川区\n"))
    assert proposal.kind == "block"
    assert proposal.values == {"name": "北ブロック", "wards": ["北区", "都島区", "淀川区"]}


# ---------------------------------------------------------------- the sample report


def test_label_then_values_layout_pairs_labels_with_values_in_order() -> None:
    proposals = extract_proposals(DOC_ID, SAMPLE)
    events = [p for p in proposals if p.pattern == "label_then_values" and p.kind == "event"]
    assert [
        (p.context["blocks"], p.values["date"], p.values["venue"], p.values["lecturer"]["name"]) for p in events
    ] == [
        (["北ブロック"], "令和５年９月19日（火）", "中央区民センター", "田村 学"),
        (["東ブロック"], "令和５年９月29日（金）", "東成区民センター", "川邉 正和"),
        (["西ブロック"], "令和５年９月28日（木）", "港区民センター", "豊國 剛大"),
        (["南ブロック"], "令和５年10月５日（木）", "住吉区民センター", "奥村 伸二"),
    ]
    assert all(p.values["time"] == "14：00～17：00" and p.context["kind"] == "block_training" for p in events)
    blocks = {p.context["name"]: p.values["wards"] for p in proposals if p.kind == "block"}
    assert blocks["東ブロック"] == ["中央区", "天王寺区", "浪速区", "東成区", "生野区", "城東区", "鶴見区"]


def test_parts_become_separate_events() -> None:
    proposals = [p for p in extract_proposals(DOC_ID, SAMPLE) if p.values.get("date") == "令和５年５月29日（月）"]
    by_part = {p.values.get("part"): p for p in proposals}
    assert set(by_part) == {None, "第1部", "第2部"}
    assert by_part["第1部"].values["time"] == "14時～15時15分"
    assert by_part["第2部"].values["participants"][-1] == {"group": "合計", "count": 71}


def test_every_span_is_an_exact_substring_holding_its_values() -> None:
    for text in (SAMPLE, MARKDOWN_REPORT):
        for proposal in extract_proposals("d", text):
            assert text[proposal.start : proposal.end] == proposal.quote
            for start, end in proposal.context_spans.values():
                assert 0 <= start < end <= len(text)


def test_a_document_without_events_yields_no_proposals() -> None:
    assert extract_proposals("plain.md", NO_EVENTS) == []
    assert extract_proposals("empty.txt", "") == []


def test_markdown_training_report_with_tables() -> None:
    proposals = extract_proposals("reports/naniwa.md", MARKDOWN_REPORT)
    main = _one(proposals, date="令和6年7月10日（水）")
    assert main.values["time"] == "14:00～16:30"
    assert main.values["venue"] == "浪速区民センター"
    assert main.values["lecturer"] == {
        "name": "山田 太郎",
        "title": "院長",
        "affiliation": "医療法人 春風会 なにわ在宅クリニック",
    }
    assert main.values["participants"] == [
        {"group": "医師", "count": 12}, {"group": "看護師", "count": 20}, {"group": "合計", "count": 32},
    ]  # fmt: skip
    north = _one(proposals, date="2024年11月5日（火）")
    assert (north.values["venue"], north.values["lecturer"]["name"]) == ("北区民センター", "北野 一郎")
    assert north.quote.startswith("北ブロック |")
    assert north.values["blocks"] == ["北ブロック"]
    south = _one(proposals, date="2024/11/12")
    assert (south.values["time"], south.values["venue"]) == ("10:00～12:00", "平野区民ホール")
    survey = _one(proposals, responses=30)
    assert survey.values["response_rate"] == 93.8


def test_extraction_eval_meets_the_targets_on_the_sample(tmp_path: Path) -> None:
    copy_sample_corpus(tmp_path)
    result = run_extraction_eval(tmp_path)["overall"]
    assert result["values_outside_span"] == 0
    for field in ("date", "venue", "lecturer"):
        assert result["fields"][field]["recall"] >= 0.8, field
        assert result["fields"][field]["precision"] >= 0.95, field


# ---------------------------------------------------------------- drafts and review


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_database(f"sqlite:///{tmp_path / 'drafts.sqlite3'}")
    yield engine
    engine.dispose()


def _draft_id(engine: Engine, **values: object) -> int:
    with Session(engine) as session:
        for draft in session.scalars(select(RecordDraft)):
            if all(draft.values.get(k) == v or draft.context.get(k) == v for k, v in values.items()):
                return draft.id
    raise AssertionError(f"no draft with {values}")


def test_re_proposing_an_unchanged_document_adds_nothing(engine: Engine) -> None:
    first = propose_for_document(engine, DOC_ID, SAMPLE)
    assert first == len(extract_proposals(DOC_ID, SAMPLE))
    assert propose_for_document(engine, DOC_ID, SAMPLE) == 0


def test_a_rejected_span_is_not_proposed_again_and_a_changed_document_drops_stale_drafts(engine: Engine) -> None:
    propose_for_document(engine, "r.md", MARKDOWN_REPORT)
    draft_id = _draft_id(engine, responses=30)
    with Session(engine) as session:
        reject_draft(session, draft_id)
        session.commit()
    assert propose_for_document(engine, "r.md", MARKDOWN_REPORT) == 0
    changed = MARKDOWN_REPORT.replace("浪速区民センター", "浪速区役所")
    assert propose_for_document(engine, "r.md", changed) == 1  # only the edited table row's event
    with Session(engine) as session:
        drafts = list(session.scalars(select(RecordDraft).where(RecordDraft.document_id == "r.md")))
        assert [d.status for d in drafts].count("rejected") == 1
        assert all("浪速区民センター" not in d.quote for d in drafts if d.status == "pending")


def test_live_records_already_transcribed_are_not_proposed(engine: Engine, tmp_path: Path) -> None:
    records_file = copy_sample_corpus(tmp_path / "corpus")
    sync_record_files(engine, [records_file], tmp_path / "corpus")
    assert propose_for_document(engine, DOC_ID, SAMPLE) == 0


def test_accepting_a_draft_builds_a_record_with_provenance_and_export_round_trips(
    engine: Engine, tmp_path: Path
) -> None:
    propose_for_document(engine, "reports/naniwa.md", MARKDOWN_REPORT)
    with Session(engine) as session:
        draft_id = _draft_id(engine, venue="浪速区民センター")
        record = accept_draft(session, draft_id, {"venue": "浪速区民センター ホール", "lecturer.title": "理事長"})
        session.commit()
        assert record["venue"] == "浪速区民センター ホール"
        assert record["lecturer"] == {
            "name": "山田 太郎",
            "title": "理事長",
            "affiliation": "医療法人 春風会 なにわ在宅クリニック",
        }
        assert record["source"]["document_id"] == "reports/naniwa.md"
        assert record["source"]["quote"] in MARKDOWN_REPORT
        with pytest.raises(ReviewError, match="already accepted"):
            accept_draft(session, draft_id)
        exported = export_records(session, relative_to="reports")
    assert exported["document"] == "naniwa.md"
    corpus = tmp_path / "corpus"
    (corpus / "reports").mkdir(parents=True)
    (corpus / "reports" / "naniwa.md").write_text(MARKDOWN_REPORT, encoding="utf-8")
    (corpus / "reports" / "naniwa.records.yaml").write_text(dump_record_file(exported), encoding="utf-8")
    fresh = open_database(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    report = sync_record_files(fresh, [corpus / "reports" / "naniwa.records.yaml"], corpus)
    assert report.summary()["added"] == 1, report.to_dict()
    with Session(fresh) as session:
        event = session.scalars(select(Event)).one()
        assert (event.venue, event.start_time.isoformat(), event.lecturer_title) == (
            "浪速区民センター ホール",
            "14:00:00",
            "理事長",
        )
    fresh.dispose()


def test_an_invalid_edit_is_refused_and_nothing_is_written(engine: Engine) -> None:
    propose_for_document(engine, "reports/naniwa.md", MARKDOWN_REPORT)
    draft_id = _draft_id(engine, venue="浪速区民センター")
    with Session(engine) as session:
        with pytest.raises(ReviewError, match="date"):
            accept_draft(session, draft_id, {"date": "令和6年2月30日"})
        session.rollback()
        assert session.get(RecordDraft, draft_id).status == "pending"  # type: ignore[union-attr]
        assert session.scalars(select(Event)).all() == []


# ---------------------------------------------------------------- CLI


runner = CliRunner()


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    engine = open_database(url)
    propose_for_document(engine, DOC_ID, SAMPLE)
    monkeypatch.setenv("RENKEI_DATABASE_URL", url)
    get_settings.cache_clear()
    yield engine
    engine.dispose()
    get_settings.cache_clear()


def test_cli_review_list_accept_edit_reject_and_export(cli_database: Engine, tmp_path: Path) -> None:
    listed = runner.invoke(records_cli, ["review", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert len(json.loads(listed.output)) == len(extract_proposals(DOC_ID, SAMPLE))
    assert "中央区民センター" in runner.invoke(records_cli, ["review"]).output

    block_id = _draft_id(cli_database, name="北ブロック")
    event_id = _draft_id(cli_database, venue="中央区民センター")
    assert runner.invoke(records_cli, ["review", "accept", str(block_id)]).exit_code == 0
    result = runner.invoke(
        records_cli, ["review", "accept", str(event_id), "--set", "venue=中央会館", "--set", "status=planned"]
    )
    assert result.exit_code == 0, result.output
    rejected = _draft_id(cli_database, venue="東成区民センター")
    assert runner.invoke(records_cli, ["review", "reject", str(rejected)]).exit_code == 0
    again = runner.invoke(records_cli, ["review", "reject", str(rejected)])
    assert again.exit_code == 2 and "already rejected" in again.output

    out = tmp_path / "export.records.yaml"
    assert runner.invoke(records_cli, ["export", "--out", str(out), "--relative-to", "sample"]).exit_code == 0
    exported = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert exported["document"] == "osaka_r5_zaitaku_renkei_progress.txt"
    assert [b["name"] for b in exported["blocks"]] == ["北ブロック"]
    assert [(e["venue"], e["status"], e["blocks"]) for e in exported["events"]] == [
        ("中央会館", "planned", ["北ブロック"])
    ]


def test_cli_accept_all_above_a_confidence(cli_database: Engine) -> None:
    result = runner.invoke(records_cli, ["review", "accept-all", "--min-confidence", "0.9"])
    assert result.exit_code == 0, result.output
    with Session(cli_database) as session:
        drafts = list(session.scalars(select(RecordDraft)))
        assert all(d.status == "accepted" for d in drafts if d.confidence >= 0.9)
        # below the threshold, only the whole event of an accepted part (第1部) is accepted, so the part can name it
        parents = {event.parent_id for event in session.scalars(select(Event).where(Event.part.is_not(None)))}
        assert None not in parents
        assert all(d.status == "pending" or d.record_id in parents for d in drafts if d.confidence < 0.9)
        assert len(session.scalars(select(Event).where(Event.kind == "block_training")).all()) == 4


# ---------------------------------------------------------------- API


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    propose_for_document(engine, "reports/naniwa.md", MARKDOWN_REPORT)
    with TestClient(drafts_app(engine, TOKEN)) as test_client:
        yield test_client


def test_api_requires_the_admin_token(client: TestClient) -> None:
    assert client.get("/api/admin/drafts").status_code == 401
    assert client.get("/api/admin/drafts", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/api/admin/drafts/1/reject").status_code == 401


def test_api_list_accept_edited_and_reject(client: TestClient, engine: Engine) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    listed = client.get("/api/admin/drafts", headers=auth).json()["drafts"]
    assert {d["values"].get("venue") for d in listed} >= {"浪速区民センター", "北区民センター"}
    target = next(d for d in listed if d["values"].get("venue") == "北区民センター")
    unknown_block = client.post(f"/api/admin/drafts/{target['id']}/accept", headers=auth)
    assert unknown_block.status_code == 409 and "北ブロック" in unknown_block.json()["error"]["message"]
    assert unknown_block.json()["error"]["code"] == "confirm_blocks"  # the page asks, then sends create_blocks
    edits = {"lecturer": {"title": "名誉院長"}, "blocks": None}
    accepted = client.post(f"/api/admin/drafts/{target['id']}/accept", json=edits, headers=auth)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["record"]["lecturer"]["title"] == "名誉院長"
    assert accepted.json()["draft"]["status"] == "accepted"
    assert client.post(f"/api/admin/drafts/{target['id']}/accept", headers=auth).status_code == 409
    other = next(d for d in listed if d["kind"] == "survey")
    assert client.post(f"/api/admin/drafts/{other['id']}/reject", headers=auth).json()["draft"]["status"] == "rejected"
    assert client.post("/api/admin/drafts/99999/reject", headers=auth).status_code == 404
    invalid = next(d for d in listed if d["values"].get("venue") == "平野区民ホール")
    bad = client.post(f"/api/admin/drafts/{invalid['id']}/accept", json={"time": "25:00~26:00"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_draft"
    pending = client.get("/api/admin/drafts", params={"status": "pending"}, headers=auth).json()["drafts"]
    assert invalid["id"] in {d["id"] for d in pending}
