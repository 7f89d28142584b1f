"""The Alembic migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session

from records.db import HEAD_REVISION, alembic_config, migrate, open_database, schema_revisions
from records.models import Base, Ward
from records.reference import WARDS
from tests.test_records_fixtures import engine  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[1]


def test_migrated_schema_matches_the_models(engine: Engine) -> None:  # noqa: F811
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
        assert context.get_current_revision() == head
        assert head == "0004_extraction"
        assert HEAD_REVISION == head, "records.db.HEAD_REVISION must name the newest migration"


def test_wards_are_seeded_in_official_order(engine: Engine) -> None:  # noqa: F811
    with Session(engine) as session:
        assert tuple(session.scalars(select(Ward.name).order_by(Ward.id))) == WARDS


def test_upgrade_is_idempotent_and_downgrade_reverses_it(engine: Engine) -> None:  # noqa: F811
    migrate(engine)
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate(engine)
    assert "events" in inspect(engine).get_table_names()


def test_open_database_works_outside_the_repository(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'dir' / 'renkei.sqlite3'}"
    code = f"from records.db import open_database; open_database({url!r}).dispose()"
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, timeout=60)
    engine = open_database(url)
    assert "wards" in inspect(engine).get_table_names()
    engine.dispose()


def test_open_database_migrates_a_database_behind_head(engine: Engine) -> None:  # noqa: F811
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
from records.db import open_database
engine = open_database({url!r})
print("alembic" in sys.modules, "wards" in inspect(engine).get_table_names())
"""


def test_reopening_a_database_at_head_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'renkei.sqlite3'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's code, whichever one is installed
    runs = [subprocess.run([sys.executable, "-c", OPEN_AT_HEAD.format(url=url)], cwd=tmp_path, env=env, check=True,
                           capture_output=True, text=True, timeout=60).stdout.split() for _ in range(2)]
    assert runs == [["True", "True"], ["False", "True"]]  # the first open migrates; the second needs no Alembic
