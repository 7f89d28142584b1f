"""A fresh database per test on SQLite and, when ``RENKEI_TEST_POSTGRES_URL`` is set, on PostgreSQL (a new schema
per test, dropped afterwards), for the fixtures ``engine`` (tests/conftest.py) and ``sample_engine``
(tests/records/conftest.py); the sample report and its record file."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from tests.support.paths import REPO

POSTGRES_ENV = "RENKEI_TEST_POSTGRES_URL"
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
