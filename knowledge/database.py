"""The one database: its engine factory and the one Alembic history of every table in it.

Every table lives in one database (SQLite ``renkei.sqlite3`` in the data dir, or PostgreSQL by
``RENKEI_DATABASE_URL``): the catalog (``knowledge``), the records, drafts and feedback (``records``) and the
conversation memory (``assistant``). Only the migrations in ``knowledge/migrations`` create or change them,
through :func:`open_database` (start-up, every command) or ``renkei db upgrade``.

This module imports no other module of the project, so every package may import it. It sits in ``knowledge``,
the lowest layer; the migrations are plain DDL and import no models.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest migration's revision (tests/knowledge/test_database.py checks it against the scripts). A database already
# there is opened without importing Alembic, which takes ~0.2 s of every cold `renkei ask` and server start.
HEAD_REVISION = "0005_catalog_and_memory"
SQLITE_PRAGMAS = ("PRAGMA foreign_keys=ON", "PRAGMA journal_mode=WAL", "PRAGMA busy_timeout=30000")

# Databases this process has seen at HEAD_REVISION (by URL): opened again, they are not asked again. Running
# any migration on one (here or by hand through Alembic) takes it out, see knowledge/migrations/env.py.
_at_head: set[str] = set()


def _set_sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL; None for other backends and for in-memory databases."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (the schema as it is). SQLite: the parent directory is created, and every
    connection gets foreign keys, WAL and a 30 s busy timeout; PostgreSQL: connections are pinged before use."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    if (path := _sqlite_file(parsed)) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed)
    event.listen(engine, "connect", _set_sqlite_pragmas)
    return engine


def alembic_config(engine: Engine) -> Config:
    """An Alembic config built in code, pointing at the migrations shipped in this package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (idempotent)."""
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def schema_revisions(engine: Engine) -> list[str]:
    """The revisions recorded in ``alembic_version`` (none when the database was never migrated)."""
    try:
        with engine.connect() as connection:
            return list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except DBAPIError:  # no alembic_version table yet
        return []


def _key(url: URL) -> str | None:
    """How this process remembers a database; None for an in-memory SQLite database (one per engine)."""
    if url.get_backend_name() == "sqlite" and _sqlite_file(url) is None:
        return None
    return url.render_as_string(hide_password=False)


def forget(url: URL) -> None:
    """Ask the database for its revision again on the next open (its schema was just migrated)."""
    if (key := _key(url)) is not None:
        _at_head.discard(key)


def upgrade(engine: Engine) -> bool:
    """Bring the schema to the newest migration unless it is there; True when migrations ran."""
    key = _key(engine.url)
    path = _sqlite_file(engine.url)
    if key in _at_head and (path is None or path.exists()):
        return False
    ran = schema_revisions(engine) != [HEAD_REVISION]
    if ran:
        migrate(engine)
    if key is not None:
        _at_head.add(key)
    return ran


def open_database(url: str) -> Engine:
    """Open the database at ``url`` with its schema at the newest migration (checked once per process)."""
    engine = make_engine(url)
    upgrade(engine)
    return engine
