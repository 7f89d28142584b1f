"""The hand transcription of the sample report, checked figure by figure against the report.

Each record's quote must be an exact passage of the report, and every venue, lecturer, date,
time, count and rate must be readable inside that quote, so a typo in the record file fails.
The coverage tests check the other way round: every date, venue, lecturer and head count the
report states is held by some record.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, time
from functools import cache

import pytest

from records.dates import format_era_date, format_era_fiscal_year
from records.parsing import ParsedFile, ParsedRecord, parse_record_file
from records.reference import WARDS
from records.schema import BlockIn, EventIn, FindingIn, OnboardingStepIn, SupportActivityIn, SurveyIn
from tests.support.databases import SAMPLE_RECORDS, SAMPLE_TEXT
from tests.support.paths import REPO

# Participant groups named by the transcriber because the report gives only the figure ("11区").
DESCRIPTIVE_GROUPS = {"報告区"}


def compact(text: str) -> str:
    """NFKC with all whitespace removed: how figures are compared with the report."""
    return "".join(unicodedata.normalize("NFKC", text).split())


@cache
def parsed() -> ParsedFile:
    return parse_record_file(SAMPLE_RECORDS, REPO / "corpus")


@cache
def report_text() -> str:
    return SAMPLE_TEXT.read_text(encoding="utf-8")


def records_of(kind: type) -> list[ParsedRecord]:
    return [record for record in parsed().records if isinstance(record.data, kind)]


def record_ids(kind: type) -> list[str]:
    return [record.data.id for record in records_of(kind)]


def by_id(record_id: str) -> ParsedRecord:
    return next(record for record in parsed().records if record.data.id == record_id)


def date_forms(value: date) -> set[str]:
    return {compact(format_era_date(value)), f"{value.year}-{value.month:02d}-{value.day:02d}"}


def time_forms(value: time) -> set[str]:
    forms = {f"{value.hour}:{value.minute:02d}", f"{value.hour}時{value.minute}分"}
    if value.minute == 0:
        forms.add(f"{value.hour}時")
    return forms


def test_the_record_file_loads_without_errors() -> None:
    result = parsed()
    assert not result.fatal
    assert [str(error) for error in result.errors] == []
    assert result.document_id == "sample/osaka_r5_zaitaku_renkei_progress.txt"


def test_record_counts() -> None:
    counts = {kind.__name__: len(records_of(kind)) for kind in (BlockIn, EventIn, SurveyIn, FindingIn)}
    assert counts == {"BlockIn": 4, "EventIn": 18, "SurveyIn": 7, "FindingIn": 13}
    assert len(records_of(OnboardingStepIn)) == 4
    assert len(records_of(SupportActivityIn)) == 2


@pytest.mark.parametrize("record", parsed().records, ids=lambda r: r.data.id)
def test_quotes_are_exact_passages_of_the_report(record: ParsedRecord) -> None:
    text = report_text()
    assert record.data.quote in text
    for participant in getattr(record.data, "participants", []):
        assert participant.quote is None or participant.quote in text
    for question in getattr(record.data, "questions", []):
        assert question.quote is None or question.quote in text


@pytest.mark.parametrize("record", parsed().records, ids=lambda r: r.data.id)
def test_sections_name_headings_of_the_report(record: ParsedRecord) -> None:
    document = compact(report_text())
    for heading in record.data.section.split(" > "):
        assert compact(heading) in document, heading


@pytest.mark.parametrize("record", parsed().records, ids=lambda r: r.data.id)
def test_free_text_fields_are_the_reports_words(record: ParsedRecord) -> None:
    document = compact(report_text())
    data = record.data
    texts = [getattr(data, name, None) for name in ("title", "theme", "audience", "note", "content", "text")]
    if isinstance(data, SurveyIn):
        texts.append(data.target)
    texts += list(getattr(data, "programme", []))
    texts += [getattr(data, "description", None), getattr(data, "timing", None)]
    for value in filter(None, texts):
        assert compact(value) in document, value


def test_blocks_cover_all_24_wards_once() -> None:
    wards = [ward for record in records_of(BlockIn) for ward in record.data.wards]
    assert sorted(wards) == sorted(WARDS)
    assert {record.data.name for record in records_of(BlockIn)} == {
        "北ブロック",
        "東ブロック",
        "西ブロック",
        "南ブロック",
    }


@pytest.mark.parametrize("record_id", record_ids(BlockIn))
def test_block_wards_are_read_from_the_quote(record_id: str) -> None:
    block = by_id(record_id).data
    assert "、".join(block.wards) in block.quote
    assert compact(block.name) in compact(block.section)


@pytest.mark.parametrize("record_id", record_ids(EventIn))
def test_event_facts_are_in_the_quote(record_id: str) -> None:
    event = by_id(record_id).data
    quote = compact(event.quote)
    if event.date:
        assert date_forms(event.date) & {form for form in date_forms(event.date) if form in quote}, event.date
        weekday = re.search(re.escape(compact(format_era_date(event.date))) + r"\((.)\)", quote)
        if weekday:
            assert weekday.group(1) == "月火水木金土日"[event.date.weekday()]
    if event.time:
        start, end = event.time
        assert time_forms(start) & {f for f in time_forms(start) if f in quote}, start
        if end:
            assert time_forms(end) & {f for f in time_forms(end) if f in quote}, end
    if event.fiscal_year and not event.date:
        assert compact(format_era_fiscal_year(event.fiscal_year)) in quote + compact(event.section)
    if event.venue:
        assert compact(event.venue) in quote
    if event.lecturer:
        for value in (event.lecturer.name, event.lecturer.title, event.lecturer.affiliation):
            assert value is None or compact(value) in quote, value
    for block in event.blocks:
        assert compact(block) in compact(event.section)
    for ward in event.presenter_wards:
        assert any(ward in item for item in event.programme)
    if event.part:
        assert compact(event.part) in quote
    if event.theme and not event.date:
        assert compact(event.theme) in quote


@pytest.mark.parametrize("record_id", [r.data.id for r in records_of(EventIn) if r.data.participants])
def test_participant_counts_are_in_their_quotes(record_id: str) -> None:
    event = by_id(record_id).data
    for participant in event.participants:
        quote = compact(participant.quote or event.quote)
        assert f"{participant.count}{participant.unit}" in quote, participant
        if participant.group not in DESCRIPTIVE_GROUPS:
            assert compact(participant.group) in quote, participant
        if participant.subset_of:
            assert compact(f"うち{participant.group}") in quote or "内訳" in quote, participant


@pytest.mark.parametrize("record_id", record_ids(SurveyIn))
def test_survey_figures_are_in_the_quotes(record_id: str) -> None:
    survey = by_id(record_id).data
    quote = compact(survey.quote)
    if survey.responses is not None:
        assert re.search(rf"回収数】?{survey.responses}(?!\d)", quote), survey.responses
    if survey.response_rate is not None:
        assert f"回収率{survey.response_rate:g}%" in quote
    if survey.fiscal_year and survey.event is None:
        assert compact(format_era_fiscal_year(survey.fiscal_year)) in quote
    for question in survey.questions:
        question_quote = compact(question.quote or "")
        assert compact(question.text) in question_quote
        counts = [option.count for option in question.options if option.count is not None]
        # figures are printed in legend order; options without a figure come last
        assert [option.count for option in question.options[: len(counts)]] == counts
        lines = [line.strip() for line in (question.quote or "").splitlines() if line.strip()]
        assert " ".join(str(count) for count in counts) in lines
        for option in question.options:
            assert option.label in lines, option.label


def test_survey_events_exist() -> None:
    events = set(record_ids(EventIn))
    for record in records_of(SurveyIn):
        assert record.data.event is None or record.data.event in events


@pytest.mark.parametrize("record_id", record_ids(FindingIn))
def test_findings_are_the_reports_bullets(record_id: str) -> None:
    finding = by_id(record_id).data
    assert finding.quote == f"・{finding.text}"
    heading = {"achievement": "取組み内容", "challenge": "課題", "plan": "取り組みたいこと"}[finding.category]
    assert heading in finding.section
    if finding.fiscal_year:
        assert compact(format_era_fiscal_year(finding.fiscal_year)) in compact(finding.section)


@pytest.mark.parametrize("record_id", record_ids(OnboardingStepIn))
def test_onboarding_steps_are_in_their_quotes(record_id: str) -> None:
    step = by_id(record_id).data
    quote = compact(step.quote)
    assert compact(step.timing) in quote
    assert compact(step.description) in quote
    if step.date:
        assert compact(format_era_date(step.date)) in quote
        assert step.event is not None and by_id(step.event).data.date == step.date


@pytest.mark.parametrize("record_id", record_ids(SupportActivityIn))
def test_support_activities_are_in_their_quotes(record_id: str) -> None:
    activity = by_id(record_id).data
    quote = compact(activity.quote)
    assert activity.period and compact(activity.period) in quote
    assert f"{activity.wards_count}区" in quote
    assert activity.content and compact(activity.content) in quote


# ---------------------------------------------------------------- coverage: the report → the records


def all_event_dates() -> set[date]:
    dates = {record.data.date for record in records_of(EventIn) if record.data.date}
    return dates | {record.data.date for record in records_of(OnboardingStepIn) if record.data.date}


def test_every_dated_day_in_the_report_is_a_record() -> None:
    text = unicodedata.normalize("NFKC", report_text())
    found = {
        date(2018 + int(y) if era == "令和" else 1988 + int(y), int(m), int(d))
        for era, y, m, d in re.findall(r"(令和|平成)(\d+)年(\d+)月(\d+)日", text)
    }
    assert len(found) == 10
    assert found <= all_event_dates()


def test_every_venue_in_the_report_is_a_record() -> None:
    venues = set(re.findall(r"\S+区民センター", unicodedata.normalize("NFKC", report_text())))
    assert len(venues) == 5
    assert venues == {record.data.venue for record in records_of(EventIn) if record.data.venue}


def test_every_lecturer_in_the_report_is_a_record() -> None:
    lines = [line for line in report_text().splitlines() if re.search(r"(先生|氏)$", line.strip())]
    assert len(lines) == 6
    lecturers = [r.data.lecturer for r in records_of(EventIn) if r.data.lecturer and r.data.lecturer.name]
    for line in lines:
        assert any(compact(lecturer.name) in compact(line) for lecturer in lecturers), line


def test_every_head_count_in_the_report_is_a_record() -> None:
    text = unicodedata.normalize("NFKC", report_text())
    stated = {int(n) for n in re.findall(r"(\d+)\s*名", text)}
    participants = {p.count for r in records_of(EventIn) for p in r.data.participants if p.unit == "名"}
    responses = {r.data.responses for r in records_of(SurveyIn) if r.data.responses is not None}
    assert participants <= stated
    assert stated <= participants | responses


def test_every_response_rate_in_the_report_is_a_record() -> None:
    text = unicodedata.normalize("NFKC", report_text())
    stated = {float(rate) for rate in re.findall(r"回収率([\d.]+)%", text)}
    assert stated == {r.data.response_rate for r in records_of(SurveyIn) if r.data.response_rate is not None}


@pytest.mark.parametrize(
    ("record_id", "expected"),
    [
        ("block-training-2023-north", (date(2023, 9, 19), "中央区民センター", "田村 学", "おおさか往診クリニック")),
        ("block-training-2023-east", (date(2023, 9, 29), "東成区民センター", "川邉 正和", "かわべクリニック")),
        ("block-training-2023-west", (date(2023, 9, 28), "港区民センター", "豊國 剛大", "三和クリニック")),
        ("block-training-2023-south", (date(2023, 10, 5), "住吉区民センター", "奥村 伸二", "みみはら在宅クリニック")),
        ("joint-training-2023", (date(2023, 6, 29), "福島区民センター", "釘山 健一", "会議ファシリテーター普及協会")),
    ],
)
def test_key_events(record_id: str, expected: tuple[date, str, str, str]) -> None:
    event = by_id(record_id).data
    assert event.lecturer is not None
    assert (event.date, event.venue, event.lecturer.name) == expected[:3]
    assert expected[3] in (event.lecturer.affiliation or "")
