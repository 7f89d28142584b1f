"""The records tests' shared database: the sample record file loaded once per module (``engine``, a fresh
database per test, is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from knowledge.database import open_database
from records.loader import sync_record_files
from tests.support.databases import BACKENDS, SAMPLE_RECORDS, fresh_database_url
from tests.support.paths import REPO


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
