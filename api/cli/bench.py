"""``renkei bench``: a JSON benchmark report (ingest, retrieval, chat, embeddings) measured in temp data dirs, and
``renkei bench load``, a bounded chat load test against a running ``renkei serve`` on this machine.

The commands only parse options and print; the measuring is in the modules of :mod:`api.bench`, imported when a command runs
(the command line imports this module at start-up).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="measure ingest, retrieval, chat and embedding speed; prints JSON with --json")
console = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="print the report as JSON")]
ModelOpt = Annotated[
    str | None, typer.Option("--model", help='"hashing" for the model-free embedder; default: the real model')
]
LargeOpt = Annotated[bool, typer.Option("--large", help="also measure at 100k chunks (slow)")]
QueriesOpt = Annotated[int, typer.Option("--queries", min=1, help="timed queries per size (dev questions repeated)")]
SizesOpt = Annotated[
    list[int] | None, typer.Option("--size", help="knowledge-base sizes in chunks (repeatable); default 1000 and 10000")
]
DocsOpt = Annotated[int, typer.Option("--docs", min=1, help="copies of the sample report to ingest")]


def _sizes(sizes: list[int] | None, large: bool) -> list[int]:
    from api.bench.chat import DEFAULT_SIZES, LARGE_SIZE

    chosen = list(sizes or DEFAULT_SIZES)
    return sorted(set([*chosen, LARGE_SIZE] if large else chosen))


def _report(sections: dict[str, Any]) -> dict[str, Any]:
    from api.bench.harness import report

    return report(sections)


def _emit(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    table = Table(title="renkei bench", show_lines=False)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in _flatten(report):
        table.add_row(key, str(value))
    Console().print(table)


def _flatten(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        return [row for key, value in data.items() for row in _flatten(value, f"{prefix}{key}.")]
    if isinstance(data, list):
        return [row for i, value in enumerate(data) for row in _flatten(value, f"{prefix}{i}.")]
    return [(prefix.rstrip("."), data)]


def _ingest(docs: int, model: str | None) -> dict[str, Any]:
    from api.bench.ingest import run_ingest_benchmark

    return run_ingest_benchmark(docs=docs, model=model)


def _scaling(sizes: list[int], model: str | None, queries: int, *, retrieval: bool, chat: bool) -> dict[str, Any]:
    from api.bench.chat import run_scaling_benchmark

    return run_scaling_benchmark(sizes, model, retrieval=retrieval, chat=chat, queries=queries)


def _embed() -> dict[str, Any]:
    from api.bench.embed import embed_on_sample
    from knowledge.config import Settings
    from knowledge.embeddings import resolve_model_dir

    return embed_on_sample(resolve_model_dir(Settings()))


@app.callback(invoke_without_command=True)
def all_(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    docs: DocsOpt = 200,
    model: ModelOpt = None,
    scale_model: Annotated[
        str | None,
        typer.Option("--scale-model", help="embedder for the synthetic sizes (default: the real model; 'hashing')"),
    ] = None,
    sizes: SizesOpt = None,
    large: LargeOpt = False,
    queries: QueriesOpt = 50,
    embed: Annotated[bool, typer.Option("--embed/--no-embed", help="include the embedding benchmark")] = False,
) -> None:
    """Everything in one run (the default): ingest, then retrieval + chat at each size."""
    if ctx.invoked_subcommand is not None:
        return
    started = time.perf_counter()
    sections: dict[str, Any] = {"ingest": _ingest(docs, model)}
    sections["scaling"] = _scaling(_sizes(sizes, large), scale_model, queries, retrieval=True, chat=True)
    if embed:
        sections["embed"] = _embed()
    sections["total_seconds"] = round(time.perf_counter() - started, 1)
    _emit(_report(sections), as_json)


@app.command()
def ingest(as_json: JsonOpt = False, docs: DocsOpt = 200, model: ModelOpt = None) -> None:
    """Full ingest of N copies of the sample, then a no-op re-ingest (noop_ratio)."""
    _emit(_report({"ingest": _ingest(docs, model)}), as_json)


def _scaling_command(*, retrieval: bool, chat: bool) -> Callable[..., None]:
    """``bench retrieval`` and ``bench chat``: the same options, the scaling benchmark with one side timed."""

    def command(
        as_json: JsonOpt = False,
        model: ModelOpt = None,
        sizes: SizesOpt = None,
        large: LargeOpt = False,
        queries: QueriesOpt = 50,
    ) -> None:
        report = _scaling(_sizes(sizes, large), model, queries, retrieval=retrieval, chat=chat)
        _emit(_report({"scaling": report}), as_json)

    return command


app.command("retrieval", help="hybrid_search p50/p95 and RSS at each knowledge-base size.")(
    _scaling_command(retrieval=True, chat=False)
)
app.command("chat", help="Assistant.answer p50/p95, RSS and time to first answer at each knowledge-base size.")(
    _scaling_command(retrieval=False, chat=True)
)


@app.command()
def extraction(
    as_json: JsonOpt = False,
    pages: Annotated[int, typer.Option("--pages", min=1, help="report length in pages (≈1,500 characters each)")] = 20,
) -> None:
    """Record-draft extraction time for an N-page report, cold and warm, with and without the NER model."""
    from api.bench.extraction import run_extraction_benchmark

    _emit(_report({"extraction": run_extraction_benchmark(pages)}), as_json)


@app.command()
def embed(as_json: JsonOpt = False) -> None:
    """The embedding backends (torch, onnx, onnx-int8 when exported) on the sample (api.bench.embed)."""
    _emit(_report({"embed": _embed()}), as_json)


@app.command()
def cold(
    as_json: JsonOpt = False,
    before: Annotated[
        Path | None, typer.Option("--before", help="another checkout of the code to compare with (e.g. main's)")
    ] = None,
    runs: Annotated[int, typer.Option("--runs", min=1, help="fresh processes per measure and checkout")] = 3,
    size: Annotated[
        int | None, typer.Option("--size", min=1, help="grow the sample to this many chunks first (e.g. 100000)")
    ] = None,
) -> None:
    """Cold ask (record, passage) and serve (health, model ready, dev questions, RSS) of this checkout, and of
    --before, in turns over one data dir."""
    from api.bench.backends import run_cold_comparison

    _emit(_report({"cold": run_cold_comparison(before, runs, size)}), as_json)


@app.command()
def backends(
    as_json: JsonOpt = False,
    docs: Annotated[int, typer.Option("--docs", min=1, help="copies of the sample for the ingest comparison")] = 30,
    large: Annotated[bool, typer.Option("--large", help="also a real server's RSS over 100k chunks (slow)")] = False,
    backend: Annotated[
        list[str] | None, typer.Option("--backend", help="torch, onnx, onnx-int8 (repeatable; default: all built)")
    ] = None,
) -> None:
    """Before/after in one run: cold ask and serve, embedding speed and cosine, ingest, retrieval per backend."""
    from api.bench.backends import run_backends_benchmark

    _emit(_report({"backends": run_backends_benchmark(docs, large=large, backends=backend)}), as_json)


# --- renkei bench load ------------------------------------------------------------------------------------
def _questions(path: Path | None) -> list[str] | None:
    if path is None:
        return None
    from api.bench.question_sets import load_questions

    return [item.question for item in load_questions(path)]


def _background(with_ingest: bool, base_url: str, token: str | None) -> Callable[[], Any] | None:
    """The full re-ingest to run during the load: through the admin API with a token, else ``renkei ingest``."""
    if not with_ingest:
        return None
    from api.bench.load import ingest_via_api, ingest_via_cli

    if token:
        return lambda: ingest_via_api(base_url, token)
    return ingest_via_cli


def _print_load(report: dict[str, Any]) -> None:
    table = Table("measure", "value", title="renkei bench load")
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


@app.command(help="bounded load test of a running server (loopback only)")
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
        Path | None, typer.Option(help="a question file like api/bench/questions/dev.yaml (default: built-in)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Post chat questions from CLIENTS threads for SECONDS (or MAX_REQUESTS); report p50/p95/max and errors."""
    from api.bench.load import LoadTargetRefused, run_load
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
        _print_load(report)
    background_failed = "background" in report and (
        "error" in report["background"] or (report["background"].get("result") or {}).get("status") != "succeeded"
    )
    raise typer.Exit(1 if report["errors"] or background_failed else 0)


if __name__ == "__main__":
    app()
