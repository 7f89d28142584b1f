"""``renkei db upgrade``: bring the database's schema to the newest migration (start-up does it too)."""

from __future__ import annotations

import typer

from knowledge.config import get_settings

app = typer.Typer(no_args_is_help=True, help="The database (RENKEI_DATABASE_URL, else renkei.sqlite3 in the data dir).")


@app.callback()
def db() -> None:
    """The database (RENKEI_DATABASE_URL, else renkei.sqlite3 in the data dir)."""


@app.command()
def upgrade() -> None:
    """Apply the migrations the database lacks (every table: catalog, records, drafts, feedback, conversations)."""
    from knowledge import database

    engine = database.make_engine(get_settings().storage.resolved_database_url)
    try:
        before = database.schema_revisions(engine)
        database.upgrade(engine)
        after = database.schema_revisions(engine)
    finally:
        engine.dispose()
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        typer.echo(f"{where}: already at {', '.join(after)}")
    else:
        typer.echo(f"{where}: {', '.join(before) or 'empty'} → {', '.join(after)}")
