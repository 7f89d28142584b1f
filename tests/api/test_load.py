"""The bounded load generator against a real ``renkei serve`` process (no timing thresholds)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from api.bench.load import LoadTargetRefused, check_loopback, ingest_via_api, run_load
from tests.support.paths import REPO
from tests.support.server import ADMIN_TOKEN, Deployment, start_server

SAMPLE_NAME = "osaka_r5_zaitaku_renkei_progress.txt"


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com:8000",
        "http://10.0.0.5:8000",
        "http://0.0.0.0:8000",
        "ftp://127.0.0.1/",
        "http://127.0.0.1.evil.test/",
    ],
)
def test_only_loopback_targets_are_accepted(url: str) -> None:
    with pytest.raises(LoadTargetRefused):
        run_load(url, clients=1, seconds=1)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/", "http://localhost:1", "http://[::1]:8000"])
def test_loopback_targets_pass_the_check(url: str) -> None:
    assert check_loopback(url) == url.rstrip("/")


def test_the_request_cap_stops_the_load(sample_server) -> None:
    report = run_load(sample_server.base_url, clients=3, seconds=120, max_requests=12)
    assert report["requests"] == 12
    assert report["errors"] == 0, report["error_samples"]
    assert 0 < report["latency_ms"]["p50"] <= report["latency_ms"]["p95"] <= report["latency_ms"]["max"]


def test_chat_load_while_an_ingest_replaces_a_document_has_no_errors(
    sample_deployment: Deployment, tmp_path: Path
) -> None:
    deployment = sample_deployment.copy_to(tmp_path / "load")
    server = start_server(deployment, RENKEI_ADMIN_TOKEN=ADMIN_TOKEN)
    try:
        document = deployment.corpus / SAMPLE_NAME
        document.write_text(
            document.read_text(encoding="utf-8") + "\n\n【追記】\n・負荷試験中に追加した一文\n", encoding="utf-8"
        )
        report = run_load(
            server.base_url,
            clients=4,
            seconds=5,
            max_requests=5000,
            background=lambda: ingest_via_api(server.base_url, ADMIN_TOKEN),
        )
    finally:
        server.stop()
    assert report["errors"] == 0, report["error_samples"]
    assert report["requests"] > 0
    assert "error" not in report["background"], report["background"]
    ingest = report["background"]["result"]
    assert ingest["status"] == "succeeded", ingest
    assert ingest["summary"]["updated"] == 1


def test_cli_refuses_a_remote_target() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "api.cli.bench", "load", "--url", "http://192.0.2.1:8000", "--seconds", "1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "127.0.0.1" in result.stderr
