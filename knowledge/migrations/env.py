"""Alembic environment for the one database (every table: catalog, records, drafts, feedback, conversations).

Configured programmatically by :func:`knowledge.database.migrate`; the connection to migrate is passed
in ``config.attributes["connection"]`` (no alembic.ini needed). There is no ``target_metadata``: the models
live in the packages above this one (``knowledge.catalog``, ``records.models``, ``assistant.memory``), and
tests/knowledge/test_database.py checks that the migrated schema is exactly what they describe.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from knowledge.database import forget

config = context.config


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.begin() as own_connection:
            _run(own_connection)
        return
    _run(connection)


def _run(connection: Connection) -> None:
    context.configure(connection=connection, render_as_batch=True)
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        forget(connection.engine.url)  # the next open_database asks the database for its revision again


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
