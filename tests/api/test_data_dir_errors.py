"""A read-only or corrupted data dir: ``serve``/``ask``/``search`` refuse to start with one line naming
``renkei ingest --rebuild`` (no traceback), and ``renkei ingest --rebuild`` recovers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from knowledge.config import Settings, StorageSettings
from knowledge.health import RECOVERY_COMMAND, DataDirError, check_data_dir
from tests.support.cli import run_renkei
from tests.support.paths import REPO
from tests.support.server import Deployment, free_port

SAMPLE_DOC = "osaka_r5_zaitaku_renkei_progress.txt"
RUNNING_AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _garbage(relative: str) -> Callable[[Path], None]:
    def corrupt(data: Path) -> None:
        target = data / relative
        for side in target.parent.glob(target.name + "-*"):  # SQLite -wal/-shm would otherwise be replayed
            side.unlink()
        target.write_bytes(b"this is not what you think it is\x00\xff" * 200)

    return corrupt


def _replace_with_file(relative: str) -> Callable[[Path], None]:
    def corrupt(data: Path) -> None:
        target = data / relative
        shutil.rmtree(target)
        target.write_text("a file where a directory should be\n")

    return corrupt


CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "garbage SQLite database": _garbage("renkei.sqlite3"),
    "garbage lexical CURRENT": _garbage("lexical/CURRENT"),
    "garbage chroma.sqlite3": _garbage("chroma/chroma.sqlite3"),
    "chroma dir is a file": _replace_with_file("chroma"),  # as root, stands in for an unwritable store
    "lexical dir is a file": _replace_with_file("lexical"),
}


def run_cli(deployment: Deployment, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return run_renkei(deployment.env(COLUMNS="80"), *args, timeout=timeout)


def assert_clear_refusal(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout and 'File "/' not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert RECOVERY_COMMAND in lines[0]
    return lines[0]


@pytest.fixture
def deployment(sample_deployment: Deployment, tmp_path: Path) -> Deployment:
    return sample_deployment.copy_to(tmp_path / "copy")


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_corrupt_data_dir_refuses_to_start_then_rebuild_recovers(corruption: str, deployment: Deployment) -> None:
    CORRUPTIONS[corruption](deployment.data)
    commands: list[tuple[str, ...]] = [("search", "研修")]
    if corruption in ("garbage SQLite database", "garbage chroma.sqlite3"):  # the same check; spare the 2 cores
        commands += [("ask", "北ブロックの研修会の講師は？"), ("serve", "--port", str(free_port()))]
    for args in commands:
        line = assert_clear_refusal(run_cli(deployment, *args))
        assert str(deployment.data) in line

    rebuilt = run_cli(deployment, "ingest", "--rebuild", "--json")
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    assert "moved the unreadable" in rebuilt.stderr  # kept aside, not deleted
    assert list(deployment.data.glob("**/*.corrupt-*"))
    report = json.loads(rebuilt.stdout)
    statuses = {Path(f["path"]).name: f["status"] for f in report["files"]}
    assert statuses[SAMPLE_DOC] == "added" and "failed" not in statuses.values(), statuses

    answer = run_cli(deployment, "search", "北ブロック 研修会", "--json")
    assert answer.returncode == 0, answer.stderr[-2000:]
    assert json.loads(answer.stdout)


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    """As root, chmod cannot make a directory read-only; a data dir path that is a regular file can't be written either."""
    path = tmp_path / "data"
    path.write_text("not a directory")
    deployment = Deployment(tmp_path, REPO / "corpus" / "sample", path)
    for args in (("search", "研修"), ("ask", "研修は？"), ("serve", "--port", str(free_port()))):
        assert "is not a directory" in assert_clear_refusal(run_cli(deployment, *args))


@pytest.mark.skipif(
    RUNNING_AS_ROOT, reason="root ignores directory permissions, so chmod 0o555 cannot make a read-only data dir"
)
def test_read_only_data_dir(deployment: Deployment) -> None:
    deployment.data.chmod(0o555)
    try:
        line = assert_clear_refusal(run_cli(deployment, "search", "研修"))
        assert "not writable" in line
    finally:
        deployment.data.chmod(0o755)


def test_check_data_dir_accepts_healthy_and_missing_dirs(deployment: Deployment, tmp_path: Path) -> None:
    check_data_dir(Settings(storage=StorageSettings(data_dir=deployment.data, corpus_dirs=[deployment.corpus])))
    check_data_dir(
        Settings(storage=StorageSettings(data_dir=tmp_path / "not-yet-created", corpus_dirs=[deployment.corpus]))
    )
    _garbage("renkei.sqlite3")(deployment.data)
    with pytest.raises(DataDirError, match="renkei ingest --rebuild"):
        check_data_dir(Settings(storage=StorageSettings(data_dir=deployment.data, corpus_dirs=[deployment.corpus])))
