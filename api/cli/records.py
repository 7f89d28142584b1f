"""``renkei records ...``: look at the structured records from the command line."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from knowledge.config import get_settings
from knowledge.database import open_database
from records.dates import RecordDateError, format_time_range, parse_date
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
    # blocks, else the town or ward the event's document is about; 全市 only for the corpus's own city-wide events
    scope = "・".join(event.block_names) or event.area or "全市"
    parts = [when, hours, f"[{event.kind_label}]", title, scope, event.venue or "", event.lecturer_name or ""]
    return "  ".join(part for part in parts if part)


@app.command("list-events")
def list_events_command(
    kind: Annotated[str | None, typer.Option(help="block_training, joint_training, … or its Japanese name")] = None,
    block: Annotated[str | None, typer.Option(help="北ブロック / 北 / block-north")] = None,
    ward: Annotated[str | None, typer.Option(help="a ward: its events, its block's and city-wide ones")] = None,
    upcoming: Annotated[bool, typer.Option("--upcoming", help="only events on or after --as-of")] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="reference date (2023-09-01, 令和5年9月1日); default today")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON records")] = False,
) -> None:
    """List events in date order."""
    reference = _as_of(as_of)
    engine = open_database(get_settings().storage.resolved_database_url)
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


# ---------------------------------------------------------------- review of extracted drafts

review_app = typer.Typer(help="Review records proposed from documents: list, accept (edited), reject.")
app.add_typer(review_app, name="review")


def _parse_set(assignments: list[str]) -> dict[str, Any]:
    """``field=value`` pairs; ``lecturer.name=…`` sets a nested field, ``[a, b]`` is a list, ``field=`` removes."""
    import yaml

    edits: dict[str, Any] = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected field=value, got {assignment!r}", param_hint="--set")
        text = value.strip()
        edits[key.strip()] = yaml.safe_load(text) if text.startswith(("[", "{")) else text
    return edits


def _draft_line(draft: Any) -> str:
    title = draft.values.get("title") or draft.context.get("title") or draft.context.get("name") or ""
    facts = {k: v for k, v in draft.values.items() if k not in {"title", "questions"}}
    if draft.context.get("_date_inferred"):  # 11月29日: the year was completed from the document
        facts = {"date": f"{draft.context['date']} (year inferred)", **facts}
    if draft.context.get("area"):
        facts["area"] = draft.context["area"]
    summary = ", ".join(
        f"{k}={json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v}" for k, v in facts.items()
    )
    quote = " ⏎ ".join(line.strip() for line in draft.quote.splitlines() if line.strip())
    head = f"#{draft.id} [{draft.kind} {draft.confidence:.2f} {draft.status}] {title}"
    return f"{head}\n    {summary}\n    「{quote[:160]}」"


def _with_session(action: Any) -> Any:
    engine = open_database(get_settings().storage.resolved_database_url)
    try:
        with Session(engine) as session:
            result = action(session)
            session.commit()
            return result
    finally:
        engine.dispose()


@review_app.callback(invoke_without_command=True)
def review(ctx: typer.Context) -> None:
    """Without a command: list the pending drafts."""
    if ctx.invoked_subcommand is None:
        list_drafts_command(status="pending", document=None, as_json=False)


@review_app.command("list")
def list_drafts_command(
    status: Annotated[str, typer.Option(help="pending, accepted, rejected or all")] = "pending",
    document: Annotated[str | None, typer.Option(help="only drafts of this document id")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List drafts with their source passage."""
    from records.review import list_drafts

    def action(session: Session) -> None:
        drafts = list_drafts(session, status=None if status == "all" else status, document_id=document)
        if as_json:
            typer.echo(json.dumps([draft.to_dict() for draft in drafts], ensure_ascii=False, indent=2))
        elif not drafts:
            typer.echo("確認待ちの候補はありません。" if status == "pending" else "該当する候補はありません。")
        else:
            for draft in drafts:
                typer.echo(_draft_line(draft))

    _with_session(action)


@review_app.command("accept")
def accept_command(
    draft_id: Annotated[int, typer.Argument(help="draft id (from `renkei records review list`)")],
    assignments: Annotated[
        list[str] | None, typer.Option("--set", help="edit a field: venue=…, lecturer.name=…")
    ] = None,
    create_blocks: Annotated[
        bool, typer.Option("--create-blocks", help="create blocks the draft names that do not exist")
    ] = False,
) -> None:
    """Accept a draft (optionally edited): it becomes a live record with its source."""
    from records.review import ReviewError, accept_draft

    edits = _parse_set(assignments or [])
    try:
        record = _with_session(lambda session: accept_draft(session, draft_id, edits, create_blocks=create_blocks))
    except ReviewError as exc:
        hint = " (add --create-blocks)" if exc.code == "confirm_blocks" else ""
        typer.echo(f"error: {exc}{hint}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"accepted #{draft_id} → {record['type']} {record['id']}")


@review_app.command("reject")
def reject_command(draft_id: Annotated[int, typer.Argument(help="draft id")]) -> None:
    """Reject a draft; the same passage is not proposed again."""
    from records.review import ReviewError, reject_draft

    try:
        _with_session(lambda session: reject_draft(session, draft_id))
    except ReviewError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"rejected #{draft_id}")


@review_app.command("accept-all")
def accept_all_command(
    min_confidence: Annotated[float, typer.Option("--min-confidence", min=0.0, max=1.0)] = 0.9,
) -> None:
    """Accept every pending draft at or above a confidence; reports those that could not be accepted."""
    from records.review import accept_all

    accepted, failed = _with_session(lambda session: accept_all(session, min_confidence))
    typer.echo(f"accepted {len(accepted)} draft(s): {', '.join(f'#{i}' for i in accepted) or '-'}")
    for draft_id, reason in failed.items():
        typer.echo(f"not accepted #{draft_id}: {reason}", err=True)
    if failed:
        raise typer.Exit(code=1)


@app.command("export")
def export_command(
    out: Annotated[Path | None, typer.Option("--out", help="write the record file here (default: stdout)")] = None,
    include_all: Annotated[
        bool, typer.Option("--all", help="every live block/event/survey, not only accepted drafts")
    ] = False,
    relative_to: Annotated[str, typer.Option(help="corpus-relative directory the file will live in")] = "",
) -> None:
    """Export records accepted from drafts as a record YAML file (docs/records.md)."""
    from records.review import dump_record_file, export_records

    text = _with_session(
        lambda session: dump_record_file(
            export_records(session, only_accepted=not include_all, relative_to=relative_to)
        )
    )
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}", err=True)
