"""Record drafts from reports in other towns' layouts (records.event_text), the labelled extraction set,
the NER comparison, and review of complete drafts (parts, missing blocks)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from api.bench.extraction_eval import run_extraction_eval
from api.bench.paths import EXTRACTION_SET
from knowledge.database import open_database
from records.drafts import propose_for_document
from records.extraction import Proposal, extract_proposals, parse_participants
from records.models import Block, Event, RecordDraft
from records.review import ReviewError, accept_draft
from records.vocab import parse_vocabulary

REPO = Path(__file__).resolve().parents[2]
SET_DIR = EXTRACTION_SET
HAS_GINZA = importlib.util.find_spec("ja_ginza") is not None


def _events(text: str) -> list[Proposal]:
    return [p for p in extract_proposals("towns/report.txt", text) if p.kind == "event"]


def _only(text: str) -> dict[str, Any]:
    events = _events(text)
    assert len(events) == 1, [(p.values, p.context) for p in events]
    return {**events[0].context, **events[0].values}


# ---------------------------------------------------------------- dates that are not events


@pytest.mark.parametrize(
    "line",
    [
        "更新日：2025年1月10日",
        "最終更新日　2024年11月1日",
        "掲載日：2024年9月2日",
        "このページの作成日：2024年3月15日",
        "発行：2024.7.1",
        "蔵王町 長寿福祉課　令和5年12月20日掲載",
        "■申込締切　令和6年11月15日（金）",
        "質問は令和6年6月7日（金）までに受け付けています。",
        "関係法律の整備等に関する法律（平成26年6月25日公布）により設けられた。",
        "この要綱は、令和3年4月1日から施行する。",
        "附則（令和5年3月31日告示第22号）",
    ],
)
def test_update_publication_deadline_and_law_dates_are_not_events(line: str) -> None:
    text = f"亘理町 多職種研修会のお知らせ\n\n{line}\n\n会場：亘理町悠里館\n"
    assert _events(text) == []


def test_a_date_alone_is_not_an_event_but_a_date_with_a_venue_is() -> None:
    assert _events("資料\n\n令和6年5月1日\n") == []
    assert _only("資料\n\n令和6年5月1日、亘理町悠里館を会場に開催しました。\n")["venue"] == "亘理町悠里館"


# ---------------------------------------------------------------- month-day dates


def test_a_month_day_date_takes_its_year_from_the_fiscal_year_and_is_marked_inferred() -> None:
    record = _only("丸森町 研修会\n\n令和6年度の多職種研修会を2月7日（金）に丸森町まちづくりセンターで開催しました。\n")
    assert record["date"] == "2025-02-07" and record["_date_inferred"] is True  # February is in the next year
    assert "2月7日（金）" in record["note"]


def test_without_a_fiscal_year_the_publication_date_decides_the_year() -> None:
    text = (
        "大河原町 講演会\n掲載日：2024年12月5日\n\n11月29日（金）、大河原町役場 3階大会議室で講演会を開催しました。\n"
    )
    assert _only(text)["date"] == "2024-11-29"


def test_a_month_day_date_with_the_wrong_weekday_for_the_inferred_year_is_not_proposed() -> None:
    assert _events("町 研修会\n\n令和6年度の研修会を11月29日（月）に町民ホールで開催しました。\n") == []


# ---------------------------------------------------------------- layouts and cues


def test_prose_venue_lecturer_and_head_counts_with_their_breakdown() -> None:
    record = _only(
        "亘理町 在宅医療・介護連携推進事業\n\n"
        "令和6年12月8日(日)、亘理町悠里館を会場に、多職種連携研修会を開催しました。\n"
        "講師に東北緩和ケア研究所 所長 高森 俊介 氏を迎え、ご講演いただきました。\n"
        "当日は医師会等27名・行政16名・介護98名の計141名の参加がありました。\n"
    )
    assert record["venue"] == "亘理町悠里館"
    assert record["lecturer"] == {"name": "高森 俊介", "title": "所長", "affiliation": "東北緩和ケア研究所"}
    assert [(row["group"], row["count"]) for row in record["participants"]] == [
        ("医師会等", 27), ("行政", 16), ("介護", 98), ("計", 141),
    ]  # fmt: skip
    assert (record["title"], record["kind"], record["area"]) == (
        "多職種連携研修会",
        "multi_professional_training",
        "亘理町",
    )


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("■日時　令和6年11月29日（金）　14時～15時30分\n■会場　名取市文化会館　中ホール\n",
         {"time": "14時～15時30分", "venue": "名取市文化会館　中ホール"}),
        ("１　日時　令和6年7月3日（水）　15:00～16:30\n２　場所　利府町役場 第1会議室\n３　出席者　14名\n",
         {"venue": "利府町役場 第1会議室", "participants": [{"group": "参加者", "count": 14}]}),
        ("開催日：令和6年9月12日（木）　会場：川崎町保健福祉センター\n時間：18時30分～20時\n",
         {"venue": "川崎町保健福祉センター", "time": "18時30分～20時"}),
        ("■とき　令和7年1月18日（土）午後1時30分～3時\n■ところ　山元町中央公民館 大ホール\n",
         {"time": "午後1時30分～3時", "venue": "山元町中央公民館 大ホール"}),
    ],
)  # fmt: skip
def test_label_lines_of_other_layouts(block: str, expected: dict[str, Any]) -> None:
    record = _only(f"町の研修会\n\n{block}")
    assert {key: record.get(key) for key in expected} == expected


def test_a_capacity_is_not_a_head_count() -> None:
    record = _only(
        "名取市 講演会のお知らせ\n\n■日時　令和6年11月29日（金）\n■会場　名取市文化会館\n■定員　200名（先着順）\n"
    )
    assert "participants" not in record


def test_resident_lectures_and_report_meetings_get_their_kind() -> None:
    lecture = _only(
        "名取市 ACP（人生会議）普及啓発講演会のお知らせ\n\n■日時　令和6年11月29日（金）\n■会場　名取市文化会館\n"
    )
    assert (lecture["kind"], lecture["title"]) == ("resident_lecture", "ACP（人生会議）普及啓発講演会")
    report = _only("岩沼市 活動報告会 実施報告\n\n日時：令和6年2月22日（木）\n会場：岩沼市総合福祉センター\n")
    assert (report["kind"], report["area"]) == ("report_meeting", "岩沼市")


def test_head_count_groups() -> None:
    rows = parse_participants("医療・介護・福祉の専門職52名の参加\n市内の事業所などから38名が参加\n総勢39名")
    assert [(row["group"], row["count"]) for row in rows] == [("専門職", 52), ("参加者", 38), ("総勢", 39)]


def test_the_vocabulary_file_is_checked() -> None:
    with pytest.raises(ValueError, match="field_labels"):
        parse_vocabulary({})


# ---------------------------------------------------------------- the labelled set


def test_the_check_split_meets_the_targets_and_the_sample_keeps_its_figures() -> None:
    result = run_extraction_eval(SET_DIR)
    assert set(result["splits"]) == {"tune", "check"} and len(result["documents"]) >= 15
    check = result["splits"]["check"]
    for field in ("date", "time", "venue", "lecturer", "participants"):
        scores = check["fields"][field]
        assert scores["precision"] >= 0.95 and scores["recall"] >= 0.8, (field, scores)
    assert check["unexpected_dates"] == [] and result["splits"]["tune"]["unexpected_dates"] == []
    sample = run_extraction_eval(REPO / "corpus" / "sample")["overall"]["fields"]
    assert {f: (sample[f]["correct"], sample[f]["proposed"], sample[f]["expected"]) for f in ("date", "venue", "lecturer")} == {
        "date": (10, 10, 10), "venue": (5, 5, 5), "lecturer": (6, 6, 6),
    }  # fmt: skip
    assert (sample["participants"]["correct"], sample["participants"]["proposed"]) == (12, 12)


def test_the_split_file_must_map_splits_to_documents(tmp_path: Path) -> None:
    (tmp_path / "split.yaml").write_text("tune: one.txt\n", encoding="utf-8")
    with pytest.raises(ValueError, match="split"):
        run_extraction_eval(tmp_path)


@pytest.mark.skipif(not HAS_GINZA, reason="ja_ginza is installed by `make setup`")
def test_the_model_names_a_lecturer_the_rules_leave_unsplit() -> None:
    from records import ner

    text = "涌谷町 勉強会\n\n令和6年度の勉強会を6月28日（金）に涌谷町町民医療福祉センターで開催しました。講師は訪問看護ステーションわくや 管理者の千葉美香さん。\n"
    assert _only(text)["lecturer"] == {
        "name": "千葉美香",
        "title": "管理者",
        "affiliation": "訪問看護ステーションわくや",
    }
    with ner.disabled():
        assert _only(text)["lecturer"]["name"] == "の千葉美香"


@pytest.mark.skipif(not HAS_GINZA, reason="ja_ginza is installed by `make setup`")
def test_the_comparison_keeps_the_rules_where_they_win() -> None:
    from api.bench.extraction_ner import compare

    tune = compare(SET_DIR)["tune"]
    for field, readings in tune.items():
        assert readings["shipped"]["recall"] >= max(readings["rules"]["recall"], readings["model"]["recall"]), field


# ---------------------------------------------------------------- review of complete drafts


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_database(f"sqlite:///{tmp_path / 'drafts.sqlite3'}")
    yield engine
    engine.dispose()


def _draft_ids(engine: Engine, document_id: str) -> list[int]:
    with Session(engine) as session:
        query = select(RecordDraft.id).where(RecordDraft.document_id == document_id).order_by(RecordDraft.id)
        return list(session.scalars(query))


def test_a_complete_draft_is_accepted_without_edits(engine: Engine) -> None:
    text = (SET_DIR / "documents" / "10_marumori_kenshu.txt").read_text(encoding="utf-8")
    propose_for_document(engine, "towns/marumori.txt", text)
    [draft_id] = _draft_ids(engine, "towns/marumori.txt")
    with Session(engine) as session:
        record = accept_draft(session, draft_id)
        session.commit()
    assert (record["date"], record["area"], record["venue"]) == ("2024-11-29", "丸森町", "丸森町まちづくりセンター")
    assert record["lecturer"]["name"] == "村井 健太郎" and record["fiscal_year"] == 2024


PARTS = """# 区担当者説明会

【日 時】

令和５年５月29日（月）（第1部）14時～15時15分

（第2部）15時30分～17時

【参加者】

(第1部）区担当者43名

(第2部)  区担当者43名 コーディネーター28名
"""


def test_accepting_a_part_accepts_and_links_its_whole_event(engine: Engine) -> None:
    propose_for_document(engine, "towns/parts.md", PARTS)
    with Session(engine) as session:
        drafts = list(session.scalars(select(RecordDraft).order_by(RecordDraft.id)))
        part = next(d for d in drafts if d.values.get("part") == "第2部")
        record = accept_draft(session, part.id)
        session.commit()
        parent = session.get(Event, record["parent_id"])
        assert record["part"] == "第2部" and parent is not None and parent.part is None
        assert {d.id: d.status for d in drafts if d.status == "accepted"}.keys() == {
            part.id,
            next(d.id for d in drafts if d.record_id == parent.id),
        }


BLOCKS = """# 圏域別研修

| ブロック | 日時 | 会場 |
|---|---|---|
| 北ブロック | 2024年11月5日（火） 13:30～15:00 | 都島区民センター |
"""


def test_a_block_a_draft_names_is_created_on_confirmation(engine: Engine) -> None:
    propose_for_document(engine, "towns/blocks.md", BLOCKS)
    [draft_id] = _draft_ids(engine, "towns/blocks.md")
    with Session(engine) as session:
        with pytest.raises(ReviewError, match="北ブロック") as refused:
            accept_draft(session, draft_id)
        assert refused.value.code == "confirm_blocks"
        session.rollback()
        record = accept_draft(session, draft_id, create_blocks=True)
        session.commit()
        block = session.scalar(select(Block).where(Block.name == "北ブロック"))
        assert record["blocks"] == ["北ブロック"] and block is not None and block.document_id == "towns/blocks.md"
