"""Record-style questions about the sample report, answered from SQL (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, time

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from records.queries import (
    UnknownBlockError,
    UnknownEventKindError,
    UnknownWardError,
    block_of_ward,
    count_records,
    event_parts,
    get_event,
    get_survey,
    list_events,
    list_findings,
    list_onboarding_steps,
    list_support_activities,
    list_surveys,
    list_wards,
    next_event,
    record_to_dict,
    resolve_block,
    resolve_event_kind,
    resolve_ward,
    survey_for_event,
    surveys_for_event,
    wards_of_block,
)
from tests.support.databases import SAMPLE_TEXT

DOCUMENT_ID = "sample/osaka_r5_zaitaku_renkei_progress.txt"


@pytest.fixture
def session(sample_engine: Engine) -> Iterator[Session]:
    with Session(sample_engine) as db_session:
        yield db_session


@pytest.mark.parametrize("name", ["鶴見区", "大阪市鶴見区", "鶴見区役所", " 鶴見区 ", "鶴 見 区"])
def test_resolve_ward_accepts_aliases(session: Session, name: str) -> None:
    assert resolve_ward(session, name).name == "鶴見区"


def test_unknown_ward_lists_close_matches(session: Session) -> None:
    with pytest.raises(UnknownWardError) as caught:
        resolve_ward(session, "東淀区")
    assert "東淀川区" in caught.value.suggestions
    assert "東淀川区" in str(caught.value)
    with pytest.raises(UnknownWardError):
        resolve_ward(session, "札幌市中央区")


def test_all_24_wards_are_reference_data(session: Session) -> None:
    wards = list_wards(session)
    assert len(wards) == 24
    assert (wards[0].name, wards[-1].name) == ("北区", "西成区")


@pytest.mark.parametrize(
    ("ward", "block"),
    [("鶴見区", "東ブロック"), ("北区", "北ブロック"), ("大阪市西淀川区", "西ブロック"), ("平野区役所", "南ブロック")],
)
def test_block_of_ward(session: Session, ward: str, block: str) -> None:
    found = block_of_ward(session, ward)
    assert found is not None and found.name == block


def test_every_ward_is_in_exactly_one_block(session: Session) -> None:
    names = [ward.name for block in ("北", "東", "西", "南") for ward in wards_of_block(session, block)]
    assert len(names) == len(set(names)) == 24


def test_wards_of_the_west_block(session: Session) -> None:
    assert [w.name for w in wards_of_block(session, "西ブロック")] == [
        "福島区",
        "此花区",
        "西区",
        "港区",
        "大正区",
        "西淀川区",
    ]


@pytest.mark.parametrize("name", ["北ブロック", "北", "block-north", "北 ブロック"])
def test_resolve_block(session: Session, name: str) -> None:
    assert resolve_block(session, name).name == "北ブロック"


def test_unknown_block(session: Session) -> None:
    with pytest.raises(UnknownBlockError, match="中ブロック"):
        resolve_block(session, "中ブロック")


def test_resolve_event_kind() -> None:
    assert resolve_event_kind("ブロック別多職種研修会") == "block_training"
    assert resolve_event_kind("joint_training") == "joint_training"
    with pytest.raises(UnknownEventKindError):
        resolve_event_kind("宴会")


def test_my_wards_block_training(session: Session) -> None:
    events = list_events(session, kind="block_training", ward="鶴見区")
    assert len(events) == 1
    training = events[0]
    assert training.block_names == ["東ブロック"]
    assert (training.date, training.start_time, training.end_time) == (date(2023, 9, 29), time(14), time(17))
    assert training.venue == "東成区民センター"
    assert training.lecturer_name == "川邉 正和"


def test_next_block_training_as_of_september_first(session: Session) -> None:
    result = next_event(session, kind="block_training", as_of=date(2023, 9, 1))
    assert result.upcoming is not None
    assert result.upcoming.block_names == ["北ブロック"]
    assert result.upcoming.date == date(2023, 9, 19)
    assert result.upcoming.venue == "中央区民センター"
    assert result.most_recent_past is None


def test_next_block_training_after_the_last_one(session: Session) -> None:
    result = next_event(session, kind="block_training", as_of=date(2023, 10, 6))
    assert result.upcoming is None
    assert result.most_recent_past is not None
    assert (result.most_recent_past.date, result.most_recent_past.block_names) == (date(2023, 10, 5), ["南ブロック"])


def test_an_event_on_the_day_itself_is_upcoming(session: Session) -> None:
    result = next_event(session, kind="block_training", as_of=date(2023, 9, 28))
    assert result.upcoming is not None and result.upcoming.block_names == ["西ブロック"]
    assert result.most_recent_past is not None and result.most_recent_past.block_names == ["北ブロック"]


def test_next_event_for_a_ward_only_sees_its_block(session: Session) -> None:
    result = next_event(session, kind="block_training", ward="住吉区", as_of=date(2023, 9, 1))
    assert result.upcoming is not None and result.upcoming.date == date(2023, 10, 5)
    assert result.upcoming.venue == "住吉区民センター"
    block_result = next_event(session, kind="block_training", block="西", as_of=date(2023, 9, 29))
    assert block_result.upcoming is None and block_result.most_recent_past is not None
    assert block_result.most_recent_past.date == date(2023, 9, 28)


def test_next_event_for_a_ward_includes_city_wide_events(session: Session) -> None:
    result = next_event(session, kind="joint_training", ward="鶴見区", as_of=date(2023, 6, 1))
    assert result.upcoming is not None and result.upcoming.venue == "福島区民センター"
    briefing = next_event(session, kind="briefing", ward="北区", as_of=date(2023, 5, 1))
    assert briefing.upcoming is not None and briefing.upcoming.id == "briefing-2023"  # the parent, not a part


def test_list_events_by_date_range_and_kind_label(session: Session) -> None:
    events = list_events(session, kind="ブロック別多職種研修会", date_from=date(2023, 9, 20), date_to=date(2023, 9, 30))
    assert [e.date for e in events] == [date(2023, 9, 28), date(2023, 9, 29)]
    assert [e.block_names[0] for e in events] == ["西ブロック", "東ブロック"]


def test_list_events_for_a_block_without_city_wide(session: Session) -> None:
    events = list_events(session, block="南ブロック", include_citywide=False)
    assert [e.id for e in events] == ["block-training-2023-south"]


def test_north_block_lecturer_affiliation(session: Session) -> None:
    (training,) = list_events(session, kind="block_training", block="北ブロック")
    assert training.lecturer_affiliation == "医療法人 学縁会 おおさか往診クリニック"
    assert (training.lecturer_name, training.lecturer_title) == ("田村 学", "理事長")


def test_briefing_part_one_participants(session: Session) -> None:
    parts = event_parts(session, "briefing-2023")
    assert [p.part for p in parts] == ["第1部", "第2部"]
    part1 = parts[0]
    assert part1.count_of("区担当者") == 43
    assert part1.count_of("新任者") == 30
    new_staff = next(c for c in part1.counts if c.group == "新任者")
    assert new_staff.subset_of == "区担当者"
    assert (part1.start_time, part1.end_time) == (time(14), time(15, 15))


def test_briefing_part_two(session: Session) -> None:
    part2 = get_event(session, "briefing-2023-part2")
    assert part2.count_of("合計") == 71
    assert part2.count_of("コーディネーター") == 28
    assert part2.ward_names("presenter") == ["淀川区", "港区"]
    survey = survey_for_event(session, part2)
    assert survey is not None and survey.responses == 62
    assert survey.response_rate == pytest.approx(87.3)


def test_joint_training_survey(session: Session) -> None:
    (joint,) = list_events(session, kind="joint_training", date_from=date(2023, 4, 1))
    survey = survey_for_event(session, joint)
    assert survey is not None
    assert survey.response_rate == pytest.approx(91.5)
    assert survey.responses == 54
    (question,) = survey.questions
    assert [(o.label, o.count) for o in question.options] == [
        ("大いに活かせる", 29), ("活かせる", 23), ("あまり活かせない", 11), ("全く活かせない", None), ("未回答", None)
    ]  # fmt: skip
    assert (joint.count_of("区役所職員"), joint.count_of("コーディネーター"), joint.count_of("合計")) == (32, 27, 59)


def test_briefing_surveys(session: Session) -> None:
    surveys = surveys_for_event(session, "briefing-2023")
    assert [(s.id, s.responses) for s in surveys] == [
        ("survey-briefing-2023-part1", 40), ("survey-briefing-2023-part2", 62)
    ]  # fmt: skip
    part1 = get_survey(session, "survey-briefing-2023-part1")
    assert part1.response_rate == 93
    assert [q.text for q in part1.questions] == [
        "今後の業務に活用できそうですか", "事業の進め方は理解できましたか", "各区の取組みや課題について共有することができましたか"
    ]  # fmt: skip
    assert [o.count for o in part1.questions[1].options] == [22, 17, 1, None]


def test_report_meeting_wards(session: Session) -> None:
    meetings = list_events(session, kind="活動報告会", fiscal_year=2018)
    assert [(m.date, m.count_of("報告区")) for m in meetings] == [(date(2018, 11, 10), 11)]
    (written,) = list_events(session, kind="report_meeting", fiscal_year=2019)
    assert (written.status, written.count_of("報告区"), written.date) == ("written", 13, None)


def test_onboarding(session: Session) -> None:
    steps = list_onboarding_steps(session)
    assert [s.timing for s in steps] == ["採用月", "３か月まで", "３か月以降", "９か月後頃"]
    assert steps[0].date == date(2023, 4, 24)
    assert "チェックリスト" in steps[3].description
    peer = get_event(session, "onboarding-2023-peer")
    assert (peer.count_of("新任コーディネーター"), peer.lecturer_name) == (9, "黒田和子")


def test_findings_and_support_activities(session: Session) -> None:
    plans = list_findings(session, subject="support_office", category="plan", fiscal_year=2023)
    assert "薬局、薬剤師との連携" in [f.text for f in plans]
    assert len(list_findings(session, category="challenge")) == 5
    (wards,) = list_support_activities(session, target="ward_office")
    assert (wards.wards_count, wards.period_start, wards.period_end) == (6, date(2023, 5, 1), None)
    (offices,) = list_support_activities(session, target="support_office")
    assert (offices.wards_count, offices.period_start, offices.period_end) == (24, date(2023, 4, 1), date(2023, 6, 30))


def test_surveys_by_fiscal_year(session: Session) -> None:
    assert [s.title for s in list_surveys(session, fiscal_year=2019)] == ["大阪市高齢者実態調査"]


def test_count_records(session: Session) -> None:
    counts = count_records(session)
    assert counts["event"] == 18 and counts["block"] == 4 and counts["survey"] == 7
    assert counts["total"] == sum(v for k, v in counts.items() if k != "total")


def test_serialised_records_cite_their_source(session: Session) -> None:
    text = SAMPLE_TEXT.read_text(encoding="utf-8")
    training = list_events(session, kind="block_training", block="北")[0]
    data = record_to_dict(training)
    assert data["type"] == "event" and data["id"] == "block-training-2023-north"
    assert (data["date"], data["start_time"], data["end_time"]) == ("2023-09-19", "14:00", "17:00")
    assert data["lecturer"]["affiliation"] == "医療法人 学縁会 おおさか往診クリニック"
    assert data["source"]["document_id"] == DOCUMENT_ID
    assert data["source"]["quote"] in text
    survey = record_to_dict(get_survey(session, "survey-joint-training-2023"))
    assert survey["questions"][0]["options"][0] == {"label": "大いに活かせる", "count": 29}
    ward = record_to_dict(resolve_ward(session, "鶴見区"))
    assert ward["block"] == "東ブロック" and ward["source"]["quote"] in text
    for record in list_events(session) + list_findings(session) + list_onboarding_steps(session):
        assert record_to_dict(record)["source"]["quote"] in text
