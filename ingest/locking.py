"""One ingest at a time: a file lock in the data dir, plus a PostgreSQL advisory lock when the catalog is
shared through PostgreSQL (so processes on different machines exclude each other too)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout
from sqlalchemy import text

if TYPE_CHECKING:
    from knowledge.base import KnowledgeBase

ADVISORY_LOCK_KEY = 7_275_012  # arbitrary, fixed: "renkei ingest"


class IngestAlreadyRunning(RuntimeError):
    pass


@contextmanager
def ingest_lock(kb: KnowledgeBase) -> Iterator[None]:
    """Hold the ingest lock of ``kb``'s data (its :attr:`~knowledge.base.KnowledgeBase.lock_path`, and its
    database's advisory lock on PostgreSQL); raises :class:`IngestAlreadyRunning` at once when another holds it."""
    lock_path, engine = str(kb.lock_path), kb.engine
    lock = FileLock(lock_path)
    try:
        lock.acquire(timeout=0)
    except Timeout as exc:
        raise IngestAlreadyRunning(
            f"ingest already running (lock file {lock_path} is held by another process); wait for it to finish"
        ) from exc
    try:
        if engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                acquired = connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
                ).scalar()
                if not acquired:
                    raise IngestAlreadyRunning("ingest already running on another machine sharing this database")
                try:
                    yield
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
                    connection.commit()
        else:
            yield
    finally:
        lock.release()
