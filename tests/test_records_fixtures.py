"""Shared fixtures for the records tests: a fresh database per test on SQLite and, when
``RENKEI_TEST_POSTGRES_URL`` is set, on PostgreSQL (a new schema per test, dropped afterwards)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from knowledge.database import open_database
from records.loader import sync_record_files

POSTGRES_ENV = "RENKEI_TEST_POSTGRES_URL"
REPO = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO / "corpus" / "sample"
SAMPLE_TEXT = SAMPLE_DIR / "osaka_r5_zaitaku_renkei_progress.txt"
SAMPLE_RECORDS = SAMPLE_DIR / "osaka_r5_zaitaku_renkei_progress.records.yaml"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@contextmanager
def fresh_database_url(backend: str, directory: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'records.sqlite3'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:54329/postgres)"
        )
    schema = f"renkei_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        # a fresh schema per test, made the default through the connection's search_path
        yield (
            make_url(base)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def copy_sample_corpus(root: Path) -> Path:
    """A corpus dir holding a copy of the sample report and its record file; returns the record file."""
    (root / "sample").mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLE_TEXT, root / "sample" / SAMPLE_TEXT.name)
    return Path(shutil.copy(SAMPLE_RECORDS, root / "sample" / SAMPLE_RECORDS.name))


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with fresh_database_url(request.param, tmp_path) as url:
        database = open_database(url)
        try:
            yield database
        finally:
            database.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def sample_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A database loaded with the sample record file (shared by a module's read-only tests)."""
    directory = tmp_path_factory.mktemp("records")
    with fresh_database_url(request.param, directory) as url:
        database = open_database(url)
        report = sync_record_files(database, [SAMPLE_RECORDS], REPO / "corpus")
        assert not report.errors, [str(e) for e in report.errors]
        try:
            yield database
        finally:
            database.dispose()
