"""One ingest at a time: a file lock in the data dir, plus a PostgreSQL advisory lock when the catalog is
shared through PostgreSQL (so processes on different machines exclude each other too)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from filelock import FileLock, Timeout
from sqlalchemy import text
from sqlalchemy.engine import Engine

ADVISORY_LOCK_KEY = 7_275_012  # arbitrary, fixed: "renkei ingest"


class IngestAlreadyRunning(RuntimeError):
    pass


@contextmanager
def ingest_lock(lock_path: str, engine: Engine) -> Iterator[None]:
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
