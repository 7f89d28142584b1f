"""Shared services for the scale-out tests: a real ``chroma run`` server and a fresh PostgreSQL database
(the fixtures ``chroma_server`` and ``shared_services`` are in tests/api/conftest.py, ``postgres_database`` in
tests/conftest.py).

The Chroma server is started from the ``chroma`` script next to ``sys.executable`` on 127.0.0.1 and a free
port, waited for through ``/api/v2/heartbeat`` and stopped by its PID. Each test gets its own PostgreSQL
database ``renkei_test_<random>`` (created through ``RENKEI_TEST_POSTGRES_URL``, dropped afterwards) and
its own Chroma collection, so tests sharing one Chroma server never see each other's chunks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.server import free_port, stop_process

POSTGRES_ENV = "RENKEI_TEST_POSTGRES_URL"
CHROMA_START_TIMEOUT_S = 60.0


@dataclass
class ChromaServer:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop_process(self.process)


def chroma_executable() -> Path:
    return Path(sys.executable).parent / "chroma"


def start_chroma(directory: Path) -> ChromaServer:
    """``chroma run`` on 127.0.0.1 and a free port; returns once its heartbeat answers."""
    executable = chroma_executable()
    if not executable.exists():
        pytest.skip(f"the chroma server script is not installed next to {sys.executable}")
    port = free_port()
    log_path = directory / f"chroma-{port}.log"
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(executable), "run", "--path", str(directory / "chroma"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = ChromaServer(process, port, log_path)
    deadline = time.monotonic() + CHROMA_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"chroma exited with {process.returncode}:\n{log_path.read_text(errors='replace')[-3000:]}"
            )
        try:
            if httpx.get(f"{server.url}/api/v2/heartbeat", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"chroma did not answer its heartbeat in {CHROMA_START_TIMEOUT_S:.0f} s")


def postgres_admin_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(
            f"needs PostgreSQL: set {POSTGRES_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:54329/postgres)"
        )
    return url


@dataclass(frozen=True)
class SharedServices:
    """What several renkei processes (or machines) share: one Chroma server, one database, one collection."""

    chroma_url: str
    database_url: str
    collection: str

    def env(self) -> dict[str, str]:
        return {
            "RENKEI_CHROMA_URL": self.chroma_url,
            "RENKEI_DATABASE_URL": self.database_url,
            "RENKEI_COLLECTION": self.collection,
        }
