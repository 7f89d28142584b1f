"""Start-up checks of the data dir, and the move-aside recovery used by ``renkei ingest --rebuild``.

``check_data_dir`` is cheap (no index is loaded): it opens the SQLite files read-only and reads the
lexical index's pointer and manifest, so ``renkei serve``/``ask``/``search`` can refuse to start with one
clear message instead of a traceback from deep inside SQLAlchemy, Chroma or numpy.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from knowledge.config import Settings
from knowledge.lexical import POINTER

RECOVERY_COMMAND = "renkei ingest --rebuild"
CHROMA_SQLITE = "chroma.sqlite3"


class DataDirError(RuntimeError):
    """The data dir cannot be used; the message names the recovery command."""

    def __init__(self, problem: str, *, hint: str | None = None) -> None:
        self.problem = problem
        self.hint = hint or f"run `{RECOVERY_COMMAND}` to rebuild the indexes from the corpus"
        super().__init__(f"{problem}; {self.hint}")


def check_data_dir(settings: Settings) -> None:
    """Raise :class:`DataDirError` when the data dir is not a writable directory or a store in it is corrupt.

    A data dir that does not exist yet is fine (the first ingest creates it).
    """
    for problem in data_dir_problems(settings):
        raise DataDirError(problem.message, hint=problem.hint)


class _Problem:
    def __init__(self, path: Path, message: str, hint: str | None = None) -> None:
        self.path = path
        self.message = message
        self.hint = hint


def data_dir_problems(settings: Settings) -> list[_Problem]:
    """Everything wrong with the data dir, in the order it should be repaired (empty when healthy)."""
    data_dir = settings.storage.data_dir
    if data_dir.exists() and not data_dir.is_dir():
        return [_Problem(data_dir, f"the data dir {data_dir} is not a directory")]
    if data_dir.is_dir() and not os.access(data_dir, os.W_OK | os.X_OK):
        return [
            _Problem(
                data_dir,
                f"the data dir {data_dir} is not writable",
                hint=f"make it writable, or set RENKEI_DATA_DIR to a writable directory and run `{RECOVERY_COMMAND}`",
            )
        ]
    problems: list[_Problem] = []
    if settings.storage.database_url is None:
        problems += _sqlite_problems(settings.storage.sqlite_file, "the database")
    if settings.storage.chroma_url is None:
        problems += _chroma_problems(settings.storage.chroma_dir)
    problems += _lexical_problems(settings.storage.lexical_dir)
    return problems


def _sqlite_problems(path: Path, what: str) -> list[_Problem]:
    if not path.exists():
        return []
    if not path.is_file():
        return [_Problem(path, f"{what} {path} is not a file")]
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as connection:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        return [_Problem(path, f"{what} {path} is corrupt ({exc})")]
    return []


def _chroma_problems(chroma_dir: Path) -> list[_Problem]:
    if not chroma_dir.exists():
        return []
    if not chroma_dir.is_dir():
        return [_Problem(chroma_dir, f"the vector index {chroma_dir} is not a directory")]
    return [_Problem(chroma_dir, p.message) for p in _sqlite_problems(chroma_dir / CHROMA_SQLITE, "the vector index")]


def _lexical_problems(lexical_dir: Path) -> list[_Problem]:
    if not lexical_dir.exists():
        return []
    if not lexical_dir.is_dir():
        return [_Problem(lexical_dir, f"the lexical index {lexical_dir} is not a directory")]
    pointer = lexical_dir / POINTER
    if not pointer.exists():
        return []
    try:
        version = pointer.read_text(encoding="utf-8").strip()
        if not version.startswith("v-") or "/" in version:
            raise ValueError(f"{POINTER} holds {version[:40]!r}, not a version name")
        manifest = json.loads((lexical_dir / version / "manifest.json").read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("manifest.json is not an object")
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return [_Problem(lexical_dir, f"the lexical index {lexical_dir} is corrupt ({exc})")]
    return []


def move_aside_corrupt(settings: Settings) -> list[Path]:
    """For ``--rebuild``: rename every unusable store to ``<name>.corrupt-<time>`` (kept, never deleted).

    Returns the new paths. A data dir that is merely not writable is not touched (renaming cannot fix it).
    """
    moved: list[Path] = []
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for problem in data_dir_problems(settings):
        if problem.hint is not None:  # not writable: nothing we may repair
            raise DataDirError(problem.message, hint=problem.hint)
        target = problem.path.with_name(f"{problem.path.name}.corrupt-{stamp}")
        problem.path.rename(target)
        for suffix in ("-wal", "-shm", "-journal"):  # SQLite side files belong to the moved database
            side = problem.path.with_name(problem.path.name + suffix)
            if side.exists():
                side.rename(target.with_name(target.name + suffix))
        moved.append(target)
    return moved
