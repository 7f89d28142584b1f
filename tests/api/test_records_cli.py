"""``renkei records list-events`` against a SQLite database named by RENKEI_DATABASE_URL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.records import app
from knowledge.config import get_settings
from knowledge.database import open_database
from records.loader import sync_record_files
from tests.support.databases import copy_sample_corpus

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    records_file = copy_sample_corpus(tmp_path / "corpus")
    engine = open_database(url)
    sync_record_files(engine, [records_file], tmp_path / "corpus")
    engine.dispose()
    monkeypatch.setenv("RENKEI_DATABASE_URL", url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_list_upcoming_block_trainings_as_json(database: None) -> None:
    result = runner.invoke(
        app, ["list-events", "--kind", "block_training", "--upcoming", "--as-of", "2023-09-20", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["as_of"] == "2023-09-20"
    assert [(e["date"], e["blocks"], e["venue"]) for e in data["events"]] == [
        ("2023-09-28", ["西ブロック"], "港区民センター"),
        ("2023-09-29", ["東ブロック"], "東成区民センター"),
        ("2023-10-05", ["南ブロック"], "住吉区民センター"),
    ]
    assert all(e["source"]["document_id"].endswith("osaka_r5_zaitaku_renkei_progress.txt") for e in data["events"])


def test_list_events_for_a_ward_as_text(database: None) -> None:
    result = runner.invoke(
        app, ["list-events", "--kind", "ブロック別多職種研修会", "--ward", "大阪市鶴見区", "--as-of", "令和5年9月1日"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "2023-09-29  14:00～17:00  [ブロック別多職種研修会]  市内基本保健医療圏域ごとの多職種研修会  東ブロック  東成区民センター  川邉 正和"
    ]


def test_nothing_upcoming(database: None) -> None:
    result = runner.invoke(app, ["list-events", "--kind", "block_training", "--upcoming", "--as-of", "2023-10-06"])
    assert result.exit_code == 0
    assert "ありません" in result.output


def test_unknown_ward_and_bad_date_are_clear_errors(database: None) -> None:
    result = runner.invoke(app, ["list-events", "--ward", "鶴見"])
    assert result.exit_code == 2
    assert "鶴見区" in result.output
    result = runner.invoke(app, ["list-events", "--as-of", "令和5年2月30日"])
    assert result.exit_code == 2
    assert "令和5年2月30日" in result.output
