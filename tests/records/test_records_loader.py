"""Loading record files into SQL (SQLite, and PostgreSQL when RENKEI_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from records.loader import sync_record_files
from records.models import Event, RecordFile, Survey
from records.parsing import is_record_file
from records.queries import count_records
from tests.support.databases import copy_sample_corpus

WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


@contextmanager
def counted_writes(database: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn, _cursor, statement, _params, _context, _executemany) -> None:  # type: ignore[no-untyped-def]
        if WRITE.match(statement):
            statements.append(statement)

    event.listen(database, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(database, "before_cursor_execute", record)


def counts(database: Engine) -> dict[str, int]:
    with Session(database) as session:
        return count_records(session)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    copy_sample_corpus(root)
    (root / "small").mkdir()
    write(root / "small" / "notes.txt", "北ブロック研修 令和6年9月10日（火） 14時～16時 北区民センター\n参加者 20名\n")
    return root


SMALL = """\
document: notes.txt
blocks:
  - id: b-north
    name: 北ブロック
    wards: [北区]
    section: 研修
    quote: 北ブロック研修
events:
  - id: e1
    kind: block_training
    title: 北ブロック研修
    blocks: [北ブロック]
    date: 令和6年9月10日（火）
    time: 14時～16時
    venue: 北区民センター
    participants: [{group: 参加者, count: 20}]
    section: 研修
    quote: 北ブロック研修 令和6年9月10日（火） 14時～16時 北区民センター
"""


def test_record_file_suffixes() -> None:
    assert is_record_file(Path("a/report.records.yaml"))
    assert is_record_file(Path("a/report.records.csv"))
    assert is_record_file(Path("a/REPORT.Records.YML"))
    assert not is_record_file(Path("a/report.yaml"))
    assert not is_record_file(Path("a/records.txt"))


def test_load_sample_then_second_sync_does_no_writes(engine: Engine) -> None:
    corpus_root = Path(__file__).resolve().parents[2] / "corpus"
    sample = corpus_root / "sample" / "osaka_r5_zaitaku_renkei_progress.records.yaml"
    first = sync_record_files(engine, [sample], corpus_root)
    assert first.summary() == {"added": 1, "updated": 0, "unchanged": 0, "deleted": 0, "failed": 0}
    assert first.files[0].records == 48
    assert counts(engine)["event"] == 18
    with Session(engine) as session:
        row = session.get(RecordFile, "sample/osaka_r5_zaitaku_renkei_progress.records.yaml")
        assert row is not None and row.sha256 and row.record_count == 48
        survey = session.get(Survey, "survey-joint-training-2023")
        assert survey is not None
        assert survey.document_id == "sample/osaka_r5_zaitaku_renkei_progress.txt"
        assert survey.section.startswith("取組み３")
        assert survey.quote == "アンケート結果 【回収数】 54名 (回収率91.5％）"

    with counted_writes(engine) as writes:
        second = sync_record_files(engine, [sample], corpus_root)
    assert second.summary()["unchanged"] == 1
    assert writes == []


def test_edit_replaces_the_files_records(engine: Engine, corpus: Path) -> None:
    small = write(corpus / "small" / "notes.records.yaml", SMALL)
    assert sync_record_files(engine, [small], corpus).summary()["added"] == 1

    write(
        small,
        SMALL.replace("venue: 北区民センター", "venue: 北区民センター\n    note: 変更").replace(
            "count: 20", "count: 20, unit: 名"
        ),
    )
    report = sync_record_files(engine, [small], corpus)
    assert report.summary()["updated"] == 1
    with Session(engine) as session:
        event_row = session.get(Event, "e1")
        assert event_row is not None and event_row.note == "変更"
        assert [c.count for c in event_row.counts] == [20]
    assert counts(engine)["total"] == 2

    # an event removed from the file disappears from the database
    write(small, SMALL.split("events:")[0])
    assert sync_record_files(engine, [small], corpus).summary()["updated"] == 1
    assert counts(engine) == {**counts(engine), "event": 0, "block": 1}


def test_full_sync_deletes_records_of_removed_files(engine: Engine, corpus: Path) -> None:
    small = write(corpus / "small" / "notes.records.yaml", SMALL)
    sample = corpus / "sample" / "osaka_r5_zaitaku_renkei_progress.records.yaml"
    # the sample defines 北ブロック too: load it alone first, then the small file separately
    sync_record_files(engine, [sample], corpus)
    assert counts(engine)["total"] == 48

    # without full, a missing file is left alone
    assert sync_record_files(engine, [], corpus).files == []
    assert counts(engine)["total"] == 48

    report = sync_record_files(engine, [], corpus, full=True)
    assert [(r.path, r.status, r.records) for r in report.files] == [
        ("sample/osaka_r5_zaitaku_renkei_progress.records.yaml", "deleted", 48)
    ]
    assert counts(engine)["total"] == 0
    with Session(engine) as session:
        assert session.scalars(select(RecordFile)).all() == []
    assert sync_record_files(engine, [small], corpus, full=True).summary()["added"] == 1


def test_dry_run_reports_without_writing(engine: Engine, corpus: Path) -> None:
    small = write(corpus / "small" / "notes.records.yaml", SMALL)
    report = sync_record_files(engine, [small], corpus, dry_run=True)
    assert report.dry_run and report.summary()["added"] == 1
    assert counts(engine)["total"] == 0
    sync_record_files(engine, [small], corpus)
    report = sync_record_files(engine, [], corpus, full=True, dry_run=True)
    assert report.summary()["deleted"] == 1
    assert counts(engine)["total"] == 2


def test_bad_records_are_reported_with_file_line_and_field(engine: Engine, corpus: Path) -> None:
    bad = SMALL.replace("date: 令和6年9月10日（火）", "date: 令和5年2月30日").replace(
        "  - id: e1", "  - id: e0\n    kind: party\n    title: x\n    section: s\n    quote: 北ブロック研修\n  - id: e1"
    )
    bad += "surveys:\n  - id: s1\n    title: アンケート\n    responses: 12\n    section: 研修\n    quote: 参加者 20名\n"
    path = write(corpus / "small" / "notes.records.yaml", bad)
    report = sync_record_files(engine, [path], corpus)
    result = report.files[0]
    assert result.status == "failed"
    assert result.records == 2  # the block and the survey still load
    messages = [str(error) for error in result.errors]
    lines = bad.splitlines()
    date_line = next(i for i, line in enumerate(lines, 1) if "令和5年2月30日" in line)
    kind_line = next(i for i, line in enumerate(lines, 1) if "kind: party" in line)
    assert any(
        m.startswith(f"small/notes.records.yaml:{date_line}: events[1] (id=e1): field 'date'") and "令和5年2月30日" in m
        for m in messages
    ), messages
    assert any(m.startswith(f"small/notes.records.yaml:{kind_line}: events[0] (id=e0): field 'kind'") for m in messages)
    assert counts(engine)["survey"] == 1
    # a file with errors is checked (and reported) again on the next run
    assert sync_record_files(engine, [path], corpus).files[0].status == "failed"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (SMALL.replace("  - id: e1", "  - id: b-north"), "duplicate id 'b-north'"),
        (SMALL.replace("quote: 北ブロック研修 令和6年", "quote: 北ブロック研修  令和6年"), "differs only in spaces"),
        (SMALL.replace("quote: 北ブロック研修 令和6年", "quote: 北ブロック研修 令和６年"), "full-width"),
        (SMALL.replace("blocks: [北ブロック]", "blocks: [北ぶろっく]"), "unknown block '北ぶろっく'"),
        (SMALL.replace("wards: [北区]", "wards: [北区, 鶴見]"), "unknown ward '鶴見' (did you mean 鶴見区"),
        (SMALL.replace("time: 14時～16時", "time: 16時～14時"), "end time is not after"),
        (SMALL.replace("date: 令和6年9月10日（火）", "date: 令和6年9月10日（水）"), "weekday"),
        (SMALL.replace("    venue:", "    venu:"), "Extra inputs are not permitted"),
        (SMALL.replace("count: 20}", "count: -3}"), "greater than or equal to 0"),
        (SMALL + "    fiscal_year: 令和5年度\n", "does not contain date"),
    ],
)
def test_invalid_records(engine: Engine, corpus: Path, text: str, expected: str) -> None:
    path = write(corpus / "small" / "notes.records.yaml", text)
    result = sync_record_files(engine, [path], corpus).files[0]
    assert result.status == "failed"
    assert any(expected in str(error) for error in result.errors), [str(e) for e in result.errors]
    assert all(error.line is not None and error.file == "small/notes.records.yaml" for error in result.errors)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("document: notes.txt\nevents: [\n", "invalid YAML"),
        ("- just a list\n", "must be a mapping"),
        ("document: missing.txt\n", "not found"),
        ("document: ../../outside.txt\n", "outside the corpus root"),
        ("document: notes.txt\nevnets: []\n", "Extra inputs"),
        ("events: []\n", "document"),
    ],
)
def test_unreadable_files_keep_their_previous_records(engine: Engine, corpus: Path, text: str, expected: str) -> None:
    path = write(corpus / "small" / "notes.records.yaml", SMALL)
    sync_record_files(engine, [path], corpus)
    write(path, text)
    result = sync_record_files(engine, [path], corpus).files[0]
    assert result.status == "failed"
    assert any(expected in str(error) for error in result.errors), [str(e) for e in result.errors]
    assert "kept" in result.reason
    assert counts(engine)["total"] == 2


def test_one_bad_file_does_not_stop_the_others(engine: Engine, corpus: Path) -> None:
    bad = write(corpus / "small" / "broken.records.yaml", "document: notes.txt\nblocks: {\n")
    good = write(corpus / "small" / "notes.records.yaml", SMALL)
    report = sync_record_files(engine, [bad, good], corpus)
    assert [r.status for r in report.files] == ["failed", "added"]
    assert counts(engine)["total"] == 2


def test_ids_and_blocks_must_be_unique_across_files(engine: Engine, corpus: Path) -> None:
    first = write(corpus / "small" / "notes.records.yaml", SMALL)
    second = write(corpus / "small" / "copy.records.yaml", SMALL.replace("北区]", "都島区]"))
    report = sync_record_files(engine, [first, second], corpus)
    assert [r.status for r in report.files] == ["added", "failed"]
    messages = " ".join(str(e) for e in report.files[1].errors)
    assert "'b-north' is already defined in small/notes.records.yaml" in messages
    assert "block '北ブロック' is already defined" in messages


def test_records_may_reference_blocks_of_other_files(engine: Engine, corpus: Path) -> None:
    blocks_only = write(corpus / "small" / "blocks.records.yaml", SMALL.split("events:")[0])
    events_only = write(
        corpus / "small" / "events.records.yaml", "document: notes.txt\nevents:" + SMALL.split("events:")[1]
    )
    report = sync_record_files(engine, [blocks_only, events_only], corpus)
    assert report.summary()["added"] == 2, report.to_dict()
    # replacing the blocks file keeps the events' block links (they are by name)
    write(blocks_only, SMALL.split("events:")[0].replace("section: 研修", "section: 研修会"))
    sync_record_files(engine, [blocks_only, events_only], corpus)
    with Session(engine) as session:
        event_row = session.get(Event, "e1")
        assert event_row is not None and event_row.block_names == ["北ブロック"]


CSV = """\
document,id,kind,title,date,time,venue,lecturer_name,blocks,participants,section,quote
notes.txt,c1,block_training,北ブロック研修,R6.9.10,14時～16時,北区民センター,,北ブロック,参加者=20,研修,北ブロック研修 令和6年9月10日（火） 14時～16時 北区民センター
notes.txt,c2,block_training,北ブロック研修,R6.9.31,14時～16時,北区民センター,,北ブロック,,研修,北ブロック研修
"""


def test_csv_event_tables(engine: Engine, corpus: Path) -> None:
    write(corpus / "small" / "blocks.records.yaml", SMALL.split("events:")[0])
    csv_path = write(corpus / "small" / "events.records.csv", CSV)
    report = sync_record_files(engine, [corpus / "small" / "blocks.records.yaml", csv_path], corpus)
    result = report.files[1]
    assert result.status == "failed" and result.records == 1
    assert [str(e) for e in result.errors] == [
        "small/events.records.csv:3: row 2 (id=c2): field 'date': Value error, no such date "
        "(day is out of range for month): 'R6.9.31'"
    ]
    with Session(engine) as session:
        event_row = session.get(Event, "c1")
        assert event_row is not None
        assert (event_row.venue, event_row.block_names, event_row.count_of("参加者")) == (
            "北区民センター",
            ["北ブロック"],
            20,
        )
        assert event_row.document_id == "small/notes.txt"


def test_csv_with_unknown_columns_fails_as_a_whole(engine: Engine, corpus: Path) -> None:
    path = write(corpus / "small" / "events.records.csv", "document,id,kind,title,section,quote,colour\n")
    result = sync_record_files(engine, [path], corpus).files[0]
    assert result.status == "failed"
    assert "unknown columns: colour" in str(result.errors[0])
