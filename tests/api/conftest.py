"""Real renkei servers shared by the API, CLI and browser tests, and the scale-out services.

``sample_server`` is ONE server per pytest run over ``sample_deployment`` (the sample corpus ingested once);
``loop_server`` serves a copy of it for the admin's and the reader's loop, one per test module that asks for
it (uploads, deletes and feedback of one module never reach another's); ``chroma_server`` and
``shared_services`` are the scale-out tests' Chroma server and PostgreSQL database. The helpers that start
and drive them are in tests/support/ (server.py, admin.py, scaleout.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support.admin import FEEDBACK_PER_MINUTE, UPLOAD_LIMIT
from tests.support.scaleout import ChromaServer, SharedServices, postgres_admin_url, start_chroma
from tests.support.server import ADMIN_TOKEN, Deployment, Server, ingest, new_deployment, start_server


@pytest.fixture(scope="session")
def sample_deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    """The sample corpus ingested once into a temp data dir (copy it before writing to it)."""
    deployment = new_deployment(tmp_path_factory.mktemp("sample"))
    ingest(deployment)
    return deployment


@pytest.fixture(scope="session")
def sample_server(sample_deployment: Deployment) -> Iterator[Server]:
    """The shared server (admin token :data:`ADMIN_TOKEN`), started once per pytest run."""
    server = start_server(sample_deployment, RENKEI_ADMIN_TOKEN=ADMIN_TOKEN)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def loop_server(sample_deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    deployment = sample_deployment.copy_to(tmp_path_factory.mktemp("loop") / "deployment")
    server = start_server(
        deployment,
        RENKEI_ADMIN_TOKEN=ADMIN_TOKEN,
        RENKEI_UPLOAD_MAX_BYTES=str(UPLOAD_LIMIT),
        RENKEI_FEEDBACK_PER_MINUTE=str(FEEDBACK_PER_MINUTE),
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    postgres_admin_url()  # skip before starting anything when PostgreSQL is not available
    server = start_chroma(tmp_path_factory.mktemp("chroma-server"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def shared_services(chroma_server: ChromaServer, postgres_database: str) -> SharedServices:
    return SharedServices(chroma_server.url, postgres_database, f"renkei_{uuid.uuid4().hex[:10]}")
