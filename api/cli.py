"""The ``renkei`` command line. Commands stay thin: they call into the packages."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from knowledge.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="renkei: 在宅医療・介護連携 knowledge assistant", add_completion=False)
console = Console(stderr=True)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


@app.command()
def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="files or corpus directories (default: RENKEI_CORPUS_DIRS)")] = None,
    full: Annotated[bool, typer.Option("--full", help="also remove documents and records no longer present")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show what would change without writing")] = False,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="drop the indexes and ingest everything again")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the run report as JSON")] = False,
) -> None:
    """Ingest documents and record files; a re-run only touches what changed."""
    from api.progress import RichProgress
    from ingest.locking import IngestAlreadyRunning
    from ingest.pipeline import IngestRun
    from knowledge.base import KnowledgeBase
    from knowledge.vectorstore import EmbeddingModelMismatch

    settings = get_settings()
    try:
        kb = KnowledgeBase(settings)
        with RichProgress(console) if not as_json else _null_progress() as progress:
            report = IngestRun(kb, progress).run(paths, full=full, dry_run=dry_run, rebuild=rebuild)
    except (IngestAlreadyRunning, EmbeddingModelMismatch, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        _print_json(report.to_dict())
    else:
        _print_ingest_report(report)
    raise typer.Exit(1 if report.failed else 0)


class _null_progress:  # noqa: N801 - used like a context manager class
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _print_ingest_report(report: Any) -> None:
    out = Console()
    changed = [f for f in report.files if f.status != "unchanged"]
    if changed:
        table = Table("status", "file", "chunks", "stage", "reason", title="files")
        for item in changed:
            table.add_row(item.status, item.path, str(item.chunks or ""), item.stage or "", item.reason or "")
        out.print(table)
    summary = Table(*report.summary.keys(), "embedded", "seconds", title="dry run" if report.dry_run else "ingest summary")
    summary.add_row(*map(str, report.summary.values()), str(report.chunks_embedded), str(report.seconds))
    out.print(summary)


@app.command()
def search(
    query: str,
    k: Annotated[int, typer.Option("--k", min=1, max=100)] = 5,
    mode: Annotated[str, typer.Option(help="hybrid | dense | lexical")] = "hybrid",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Print the ranked chunks for a query with section paths and scores."""
    from knowledge.base import KnowledgeBase
    from knowledge.retriever import hybrid_search

    if mode not in ("hybrid", "dense", "lexical"):
        raise _fail("--mode must be hybrid, dense or lexical", 2)
    results = hybrid_search(KnowledgeBase(get_settings()), query, k=k, mode=mode)  # type: ignore[arg-type]
    rows = [
        {
            "rank": rank, "chunk_id": r.chunk.chunk_id, "document_id": r.chunk.document_id,
            "section": r.chunk.section, "score": round(r.score, 5), "dense": r.dense_score,
            "lexical": r.lexical_score, "text": r.chunk.text,
        }
        for rank, r in enumerate(results, start=1)
    ]
    if as_json:
        _print_json(rows)
        return
    out = Console()
    for row in rows:
        out.rule(f"#{row['rank']}  {row['document_id']}  {row['section']}  rrf={row['score']}")
        out.print(row["text"], markup=False)


def _mount_subcommands() -> None:
    from api.cli_model import app as model_app
    from api.cli_records import app as records_app

    app.add_typer(model_app, name="model", help="build or inspect the embedding model")
    app.add_typer(records_app, name="records", help="structured records")


try:
    _mount_subcommands()
except ImportError:  # pragma: no cover - during development a sub-app may not exist yet
    pass
