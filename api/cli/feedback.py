"""``renkei feedback export``: readers' ratings and the refused questions as CSV (same as the admin CSV)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from knowledge.config import get_settings

app = typer.Typer(no_args_is_help=True, help="Readers' feedback and the questions the documents could not answer.")


@app.callback()
def feedback() -> None:
    """Readers' feedback and the questions the documents could not answer."""


@app.command()
def export(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="write to this file (default: standard output)")
    ] = None,
    bom: Annotated[bool, typer.Option("--bom/--no-bom", help="start with a UTF-8 BOM so Excel reads Japanese")] = True,
) -> None:
    """Every 👍/👎 (question, answer, reason, comment, cited chunks, settings) and every unrated refusal."""
    from assistant.feedback import export_rows, write_csv
    from assistant.memory import ConversationMemory
    from knowledge.database import open_database

    memory = ConversationMemory(open_database(get_settings().storage.resolved_database_url))
    if out is None:
        if bom:
            sys.stdout.write("\ufeff")
        write_csv(export_rows(memory), sys.stdout)
        return
    with out.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        write_csv(export_rows(memory), handle)
    typer.echo(f"wrote {out}", err=True)
