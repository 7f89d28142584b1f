"""``renkei records ...``: look at the structured records from the command line."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from knowledge.settings import get_settings
from records.dates import RecordDateError, format_time_range, parse_date
from records.db import open_database
from records.models import Event
from records.queries import RecordLookupError, list_events, record_to_dict

app = typer.Typer(no_args_is_help=True, help="Structured records (events, wards, blocks, surveys).")


@app.callback()
def records() -> None:
    """Structured records (events, wards, blocks, surveys)."""


def _as_of(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return parse_date(value)
    except RecordDateError as exc:
        raise typer.BadParameter(str(exc), param_hint="--as-of") from None


def _line(event: Event) -> str:
    when = event.date.isoformat() if event.date else (event.recurrence or "日付なし")
    hours = format_time_range(event.start_time, event.end_time)
    title = f"{event.title} {event.part}" if event.part else event.title
    scope = "・".join(event.block_names) or "全市"
    parts = [when, hours, f"[{event.kind_label}]", title, scope, event.venue or "", event.lecturer_name or ""]
    return "  ".join(part for part in parts if part)


@app.command("list-events")
def list_events_command(
    kind: Annotated[str | None, typer.Option(help="block_training, joint_training, … or its Japanese name")] = None,
    block: Annotated[str | None, typer.Option(help="北ブロック / 北 / block-north")] = None,
    ward: Annotated[str | None, typer.Option(help="a ward: its events, its block's and city-wide ones")] = None,
    upcoming: Annotated[bool, typer.Option("--upcoming", help="only events on or after --as-of")] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", help="reference date (2023-09-01, 令和5年9月1日); default today")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON records")] = False,
) -> None:
    """List events in date order."""
    reference = _as_of(as_of)
    engine = open_database(get_settings().resolved_database_url)
    try:
        with Session(engine) as session:
            try:
                events = list_events(
                    session, kind=kind, block=block, ward=ward, date_from=reference if upcoming else None
                )
            except RecordLookupError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(code=2) from None
            rows: list[dict[str, Any]] = [record_to_dict(event) for event in events]
            if as_json:
                typer.echo(json.dumps({"as_of": reference.isoformat(), "events": rows}, ensure_ascii=False, indent=2))
            elif not events:
                typer.echo("該当するイベントはありません。")
            else:
                for event in events:
                    typer.echo(_line(event))
    finally:
        engine.dispose()
