"""Real renkei server processes for the HTTP and browser tests.

The fixture ``sample_server`` (tests/api/conftest.py) is ONE server per pytest run: the sample corpus is
copied to a temp dir, ingested with ``renkei ingest`` in a subprocess, and served by ``renkei serve``
(``python -m api.cli.serve``) on 127.0.0.1 and a free port. It is stopped by its PID when the run ends.
Tests that need different settings start their own with :func:`start_server`.

The tests use the model-free ``hashing`` embedding (``RENKEI_TEST_EMBEDDING_MODEL`` overrides it) so a
server starts in seconds; retrieval, records and answers are otherwise the real ones.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.paths import REPO, SAMPLE_CORPUS

ADMIN_TOKEN = "test-admin-token-7"
START_TIMEOUT_S = 180.0


def stop_process(process: subprocess.Popen[Any]) -> None:
    """Stop a server we started, by its PID: SIGTERM, then SIGKILL if it does not exit."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


@dataclass
class Deployment:
    """A corpus dir and a data dir (ingested or not)."""

    root: Path
    corpus: Path
    data: Path

    def env(self, **overrides: str | None) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("RENKEI_")}
        env.update(
            HF_HUB_OFFLINE="1",
            ANONYMIZED_TELEMETRY="False",
            PYTHONUNBUFFERED="1",
            RENKEI_DATA_DIR=str(self.data),
            RENKEI_CORPUS_DIRS=json.dumps([str(self.corpus)]),
            RENKEI_EMBEDDING_MODEL=os.environ.get("RENKEI_TEST_EMBEDDING_MODEL", "hashing"),
            RENKEI_RATE_LIMIT_PER_MINUTE="100000",
        )
        for key, value in overrides.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def copy_to(self, root: Path) -> Deployment:
        """An independent copy (corpus and indexes), for a server whose writes must not touch this one."""
        copy = Deployment(root, root / "corpus", root / "data")
        shutil.copytree(self.corpus, copy.corpus)
        shutil.copytree(self.data, copy.data, ignore=shutil.ignore_patterns("ingest.lock"))
        return copy


def new_deployment(root: Path, corpus_files: dict[str, str] | None = None) -> Deployment:
    """A corpus copied from the sample, or made of ``corpus_files`` (name → text)."""
    corpus = root / "corpus"
    if corpus_files is None:
        shutil.copytree(SAMPLE_CORPUS, corpus)
    else:
        corpus.mkdir(parents=True)
        for name, text in corpus_files.items():
            (corpus / name).write_text(text, encoding="utf-8")
    return Deployment(root, corpus, root / "data")


def ingest(deployment: Deployment) -> dict[str, Any]:
    """``renkei ingest --json`` in a subprocess; returns the report."""
    result = subprocess.run(
        [sys.executable, "-c", "from api.cli.main import app; app()", "ingest", "--json"],
        cwd=REPO,
        env=deployment.env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"ingest failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    deployment: Deployment
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    env: dict[str, str] = field(repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=60.0, **kwargs)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        stop_process(self.process)


def start_server(
    deployment: Deployment, paused_at: tuple[str, Path] | None = None, **env_overrides: str | None
) -> Server:
    """``renkei serve`` on a free port; returns once ``/api/health`` answers 200.

    ``paused_at`` (stage, marker): the ingests it runs pause at that stage (:mod:`tests.support.faults`)."""
    from tests.support.faults import paused_renkei

    port = free_port()
    env = deployment.env(**env_overrides)
    log_path = deployment.root / f"server-{port}.log"
    arguments = ["--host", "127.0.0.1", "--port", str(port)]
    command = (
        paused_renkei(*paused_at, "serve", *arguments)
        if paused_at
        else [sys.executable, "-m", "api.cli.serve", *arguments]
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(deployment, process, port, log_path, env)
    try:
        wait_until_healthy(server)
    except BaseException:
        server.stop()
        raise
    return server


def wait_until_healthy(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.log()[-4000:]}")
        try:
            if httpx.get(f"{server.base_url}/api/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server did not become healthy in {START_TIMEOUT_S:.0f} s:\n{server.log()[-4000:]}")
