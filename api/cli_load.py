"""``renkei bench load``: a bounded chat load test against a running ``renkei serve`` on this machine."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="bounded chat load test on 127.0.0.1")
console = Console(stderr=True)


def _questions(path: Path | None) -> list[str] | None:
    if path is None:
        return None
    from assistant.evaluation import load_questions

    return [item.question for item in load_questions(path)]


def _background(with_ingest: bool, base_url: str, token: str | None) -> Callable[[], Any] | None:
    """The full re-ingest to run during the load: through the admin API with a token, else ``renkei ingest``."""
    if not with_ingest:
        return None
    from api.loadtest import ingest_via_api, ingest_via_cli

    if token:
        return lambda: ingest_via_api(base_url, token)
    return ingest_via_cli


def _print(report: dict[str, Any]) -> None:
    table = Table("measure", "value", title="renkei load")
    latency = report["latency_ms"]
    rows = [
        ("clients", report["clients"]),
        ("seconds", report["seconds"]),
        ("requests", report["requests"]),
        ("errors", report["errors"]),
        ("requests/s", report["requests_per_second"]),
        ("p50 ms", latency["p50"]),
        ("p95 ms", latency["p95"]),
        ("max ms", latency["max"]),
    ]
    if "background" in report:
        rows.append(("ingest", json.dumps(report["background"], ensure_ascii=False, default=str)))
    for name, value in rows:
        table.add_row(name, str(value))
    Console().print(table)
    for sample in report["error_samples"]:
        console.print(f"[red]error:[/red] {sample}", markup=True, highlight=False)


@app.command()
def load(
    url: Annotated[str, typer.Option(help="the server (127.0.0.1, localhost or ::1 only)")] = "http://127.0.0.1:8000",
    clients: Annotated[int, typer.Option(min=1, max=100, help="concurrent clients")] = 20,
    seconds: Annotated[float, typer.Option(min=0.1, max=600, help="stop after this long")] = 60.0,
    max_requests: Annotated[
        int, typer.Option("--max-requests", min=1, max=1_000_000, help="stop after this many")
    ] = 100_000,
    with_ingest: Annotated[
        bool,
        typer.Option("--with-ingest", help="run a full re-ingest while the load runs (admin API if a token is set)"),
    ] = False,
    admin_token: Annotated[
        str | None, typer.Option(envvar="RENKEI_ADMIN_TOKEN", show_default=False, help="admin token for the ingest")
    ] = None,
    questions: Annotated[
        Path | None, typer.Option(help="a question file like tests/dev.yaml (default: built-in)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Post chat questions from CLIENTS threads for SECONDS (or MAX_REQUESTS); report p50/p95/max and errors."""
    from api.loadtest import LoadTargetRefused, run_load
    from knowledge.config import get_settings

    token = admin_token or get_settings().http.admin_token  # the option, else the settings (.env too)
    try:
        report = run_load(
            url,
            clients=clients,
            seconds=seconds,
            max_requests=max_requests,
            questions=_questions(questions),
            background=_background(with_ingest, url, token),
        )
    except LoadTargetRefused as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    else:
        _print(report)
    background_failed = "background" in report and (
        "error" in report["background"] or (report["background"].get("result") or {}).get("status") != "succeeded"
    )
    raise typer.Exit(1 if report["errors"] or background_failed else 0)


if __name__ == "__main__":
    app()
