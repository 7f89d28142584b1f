"""The one database: one Alembic history builds exactly the schema every package's models describe, on every
backend; a database made by the code before it (catalog and conversations by ``create_all``) upgrades with its rows."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, event, inspect, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from assistant.memory import ConversationMemory, MemoryBase
from knowledge.catalog import Catalog, CatalogBase
from knowledge.config import get_settings
from knowledge.database import (
    HEAD_REVISION,
    SQLITE_PRAGMAS,
    alembic_config,
    make_engine,
    migrate,
    open_database,
    schema_revisions,
)
from knowledge.types import Chunk, DocumentInfo
from records.models import Base, Ward
from records.queries import count_records
from records.reference import WARDS
from tests.support.databases import BACKENDS, fresh_database_url

ROOT = Path(__file__).resolve().parents[2]
MADE_BY_4CE9AFB = ROOT / "tests" / "data" / "renkei-4ce9afb.sqlite3"  # how it was made: tests/data/README.md


def all_models() -> MetaData:
    """The tables of the catalog, the records (drafts, feedback) and the conversation memory, in one MetaData."""
    combined = MetaData()
    for metadata in (CatalogBase.metadata, Base.metadata, MemoryBase.metadata):
        for table in metadata.tables.values():
            table.to_metadata(combined)
    return combined


def schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), all_models()))


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    assert schema_differences(engine) == []
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
        assert context.get_current_revision() == head
        assert head == "0005_catalog_and_memory"
        assert head == HEAD_REVISION, "knowledge.database.HEAD_REVISION must name the newest migration"


def test_wards_are_seeded_in_official_order(engine: Engine) -> None:
    with Session(engine) as session:
        assert tuple(session.scalars(select(Ward.name).order_by(Ward.id))) == WARDS


def test_upgrade_is_idempotent_and_downgrade_reverses_it(engine: Engine) -> None:
    migrate(engine)
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate(engine)
    assert {"events", "kb_documents", "conversations"} <= set(inspect(engine).get_table_names())


def test_open_database_works_outside_the_repository(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'dir' / 'renkei.sqlite3'}"
    code = f"from knowledge.database import open_database; open_database({url!r}).dispose()"
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, timeout=60)
    engine = open_database(url)
    assert "wards" in inspect(engine).get_table_names()
    engine.dispose()


def test_open_database_migrates_a_database_behind_head(engine: Engine) -> None:
    """The fast path (no Alembic when already at head) must not skip a database one migration behind."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0003_feedback")
    assert schema_revisions(engine) == ["0003_feedback"]
    reopened = open_database(engine.url.render_as_string(hide_password=False))
    assert schema_revisions(reopened) == [HEAD_REVISION]
    reopened.dispose()


OPEN_AT_HEAD = """
import sys
from sqlalchemy import inspect
from knowledge.database import open_database
engine = open_database({url!r})
print("alembic" in sys.modules, "wards" in inspect(engine).get_table_names())
"""


def test_reopening_a_database_at_head_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'renkei.sqlite3'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's code, whichever one is installed
    runs = [
        subprocess.run(
            [sys.executable, "-c", OPEN_AT_HEAD.format(url=url)],
            cwd=tmp_path,
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.split()
        for _ in range(2)
    ]
    assert runs == [["True", "True"], ["False", "True"]]  # the first open migrates; the second needs no Alembic


# --- once per process --------------------------------------------------------------------------------------
@pytest.fixture
def statements(tmp_path: Path) -> Iterator[list[str]]:
    """Every SQL statement run on a database in this test's temp dir (by any engine) while the test runs."""
    seen: list[str] = []

    def record(conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if str(conn.engine.url.database or "").startswith(str(tmp_path)):
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


def test_a_process_asks_a_database_for_its_revision_once(tmp_path: Path, statements: list[str]) -> None:
    url = f"sqlite:///{tmp_path / 'renkei.sqlite3'}"
    open_database(url).dispose()
    assert any("alembic_version" in statement for statement in statements)
    statements.clear()
    for _ in range(3):  # the knowledge base, the records and the memory of one start-up each open it
        open_database(url).dispose()
    assert statements == []


def test_a_database_file_removed_while_the_process_runs_is_made_again(tmp_path: Path) -> None:
    path = tmp_path / "renkei.sqlite3"
    open_database(f"sqlite:///{path}").dispose()
    path.unlink()
    engine = open_database(f"sqlite:///{path}")
    assert schema_revisions(engine) == [HEAD_REVISION]
    engine.dispose()


def test_every_sqlite_connection_gets_the_same_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'renkei.sqlite3'}")
    with engine.connect() as connection:
        values = [connection.exec_driver_sql(pragma.split("=")[0]).scalar() for pragma in SQLITE_PRAGMAS]
    engine.dispose()
    assert values == [1, "wal", 30000]


# --- a database made by the code before this history -----------------------------------------------------
def table_rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table but ``alembic_version``, read with sqlite3 (not through the models)."""
    with sqlite3.connect(path) as connection:
        tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            table: sorted(connection.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)
            for table in tables
            if table != "alembic_version"
        }


@pytest.fixture
def made_by_4ce9afb(tmp_path: Path) -> Path:
    return Path(shutil.copy(MADE_BY_4CE9AFB, tmp_path / "renkei.sqlite3"))


def test_a_database_made_by_4ce9afb_upgrades_with_its_rows(made_by_4ce9afb: Path) -> None:
    before = table_rows(made_by_4ce9afb)
    assert {
        "kb_documents",
        "kb_chunks",
        "kb_state",
        "conversations",
        "conversation_turns",
        "events",
        "record_drafts",
        "feedback",
    } <= {table for table, rows in before.items() if rows}

    engine = open_database(f"sqlite:///{made_by_4ce9afb}")
    try:
        assert schema_revisions(engine) == [HEAD_REVISION]
        assert schema_differences(engine) == []
        assert table_rows(made_by_4ce9afb) == before  # every row of every table kept, nothing added

        catalog, memory = Catalog(engine), ConversationMemory(engine)
        assert catalog.counts() == {"documents": 2, "chunks": 21}
        assert catalog.document("osaka_r5_zaitaku_renkei_progress.txt").page_count is None  # type: ignore[union-attr]
        conversation = before["conversations"][0][0]
        assert [turn.message for turn in memory.turns(conversation) or []] == [
            "北ブロックの研修会の講師は？",
            "会場はどこですか",
        ]
        with Session(engine) as session:
            assert count_records(session)["event"] == len(before["events"])

        memory.append(conversation, "次の研修は？", "次の研修は？", "record", {}, "…")  # and it takes new rows
        catalog.commit(
            [
                (
                    DocumentInfo("new.txt", "新", "other", "0" * 64, "本文です。"),
                    [Chunk("c-new", "new.txt", "本文です。", 0, 5)],
                )
            ]
        )
        assert catalog.counts() == {"documents": 3, "chunks": 22}
        assert len(memory.turns(conversation) or []) == 3
    finally:
        engine.dispose()


def test_a_catalog_older_than_page_counts_also_upgrades(made_by_4ce9afb: Path) -> None:
    with sqlite3.connect(made_by_4ce9afb) as connection:
        connection.execute("ALTER TABLE kb_documents DROP COLUMN page_count")
    engine = open_database(f"sqlite:///{made_by_4ce9afb}")
    assert schema_differences(engine) == []
    assert Catalog(engine).counts() == {"documents": 2, "chunks": 21}
    engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_tables_made_by_create_all_are_adopted_on_each_backend(backend: str, tmp_path: Path) -> None:
    """What 4ce9afb did on PostgreSQL too: records by Alembic to 0004, the catalog and the memory by create_all."""
    with fresh_database_url(backend, tmp_path) as url:
        old = make_engine(url)
        migrate(old, "0004_extraction")
        CatalogBase.metadata.create_all(old)
        MemoryBase.metadata.create_all(old)
        Catalog(old).commit(
            [(DocumentInfo("a.txt", "A", "other", "0" * 64, "本文です。"), [Chunk("c1", "a.txt", "本文", 0, 2)])]
        )
        ConversationMemory(old).append("c1", "研修は？", "研修は？", "record", {}, "九月です。")
        old.dispose()

        engine = open_database(url)
        try:
            assert schema_revisions(engine) == [HEAD_REVISION]
            assert schema_differences(engine) == []
            assert Catalog(engine).counts() == {"documents": 1, "chunks": 1}
            assert [turn.answer for turn in ConversationMemory(engine).turns("c1") or []] == ["九月です。"]
        finally:
            engine.dispose()


# --- renkei db upgrade --------------------------------------------------------------------------------------
def test_renkei_db_upgrade_brings_a_database_to_head_and_says_so(made_by_4ce9afb: Path) -> None:
    from api.cli.main import app

    env = {"RENKEI_DATABASE_URL": f"sqlite:///{made_by_4ce9afb}", "RENKEI_DATA_DIR": str(made_by_4ce9afb.parent)}
    runner = CliRunner()
    get_settings.cache_clear()
    first = runner.invoke(app, ["db", "upgrade"], env=env)
    assert first.exit_code == 0, first.output
    assert f"0004_extraction → {HEAD_REVISION}" in first.output
    assert schema_revisions(make_engine(env["RENKEI_DATABASE_URL"])) == [HEAD_REVISION]
    again = runner.invoke(app, ["db", "upgrade"], env=env)
    assert again.exit_code == 0 and f"already at {HEAD_REVISION}" in again.output
    get_settings.cache_clear()
