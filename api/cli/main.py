"""The ``renkei`` command line. Commands stay thin: they call into the packages."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from api.bench.paths import SUITE_FILE
from knowledge.config import ConfigError, get_settings

if TYPE_CHECKING:  # imported where used, to keep the command line's start-up light
    from assistant.service import Assistant
    from knowledge.config import Settings


class _Cli(typer.Typer):
    """The command line as a process (``renkei ...``, ``python -m api.cli ...``).

    A command that only reads (``ask``) may call :func:`_skip_teardown`: once it has printed, the process exits
    without the interpreter's teardown — freeing every module, chromadb's and ONNX Runtime's objects and the
    tokenizer took ~0.4 s of a cold passage question, after the answer was on the screen. Exit handlers still
    run and the output is flushed. Tests calling the commands in-process (``CliRunner``) do not come through here.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except ConfigError as exc:  # a RENKEI_* variable that cannot be used: one line naming it, no traceback
            sys.exit(_fail(str(exc), 2).exit_code)
        except SystemExit as done:
            if _teardown["skip"]:
                _exit_now(done.code)
            raise


_teardown = {"skip": False}


def _skip_teardown() -> None:
    _teardown["skip"] = True


def _exit_now(code: object) -> None:
    """Exit at once with the status ``sys.exit(code)`` would give, after the exit handlers and flushing."""
    import atexit
    import contextlib

    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()  # what the interpreter runs first at exit (logging's shutdown, ...)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more can be written anyway
            stream.flush()
    os._exit(code or 0)


app = _Cli(no_args_is_help=True, help="renkei: 在宅医療・介護連携 knowledge assistant", add_completion=False)
console = Console(stderr=True)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _checked_settings() -> Settings:
    """The settings, once the data dir passed its start-up check (else a one-line error naming the fix)."""
    from knowledge.health import DataDirError, check_data_dir

    settings = get_settings()
    try:
        check_data_dir(settings)
    except DataDirError as exc:
        raise _fail(str(exc)) from None
    return settings


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None, typer.Argument(help="files or corpus directories (default: RENKEI_CORPUS_DIRS)")
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="also remove documents and records no longer present")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show what would change without writing")] = False,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="drop the indexes and ingest everything again")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the run report as JSON")] = False,
) -> None:
    """Ingest documents and record files; a re-run only touches what changed."""
    from api.cli.progress import RichProgress
    from ingest.locking import IngestAlreadyRunning
    from ingest.pipeline import NO_HOOKS, IngestHooks, IngestRun
    from knowledge.base import IndexUnreadable, KnowledgeBase
    from knowledge.health import DataDirError, move_aside_corrupt
    from knowledge.vectorstore import EmbeddingModelMismatch

    hooks = ctx.obj if isinstance(ctx.obj, IngestHooks) else NO_HOOKS  # a test's, passed by app(obj=...)
    settings = get_settings() if rebuild and not dry_run else _checked_settings()
    try:
        if rebuild and not dry_run:
            for moved in move_aside_corrupt(settings):
                console.print(f"moved the unreadable {moved.name.split('.corrupt-')[0]} aside to {moved}", markup=False)
        kb = KnowledgeBase(settings)
        with RichProgress(console) if not as_json else _null_progress() as progress:
            report = IngestRun(kb, progress, hooks).run(paths, full=full, dry_run=dry_run, rebuild=rebuild)
    except (IngestAlreadyRunning, EmbeddingModelMismatch, IndexUnreadable, DataDirError, FileNotFoundError) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        _print_json(report.to_dict())
    else:
        _print_ingest_report(report)
    raise typer.Exit(1 if report.failed else 0)


class _null_progress:  # used like a context manager class
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
    summary = Table(
        *report.summary.keys(), "embedded", "seconds", title="dry run" if report.dry_run else "ingest summary"
    )
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
    from knowledge.retriever import Mode, hybrid_search

    modes: dict[str, Mode] = {"hybrid": "hybrid", "dense": "dense", "lexical": "lexical"}
    if mode not in modes:
        raise _fail("--mode must be hybrid, dense or lexical", 2)
    results = hybrid_search(KnowledgeBase(_checked_settings()), query, k=k, mode=modes[mode])
    rows = [
        {
            "rank": rank,
            "chunk_id": r.chunk.chunk_id,
            "document_id": r.chunk.document_id,
            "section": r.chunk.section,
            "score": round(r.score, 5),
            "dense": r.dense_score,
            "lexical": r.lexical_score,
            "text": r.chunk.text,
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


def _print_extraction(result: dict[str, Any]) -> None:
    scored = {"overall": result["overall"], **result.get("splits", {})}
    for name, scores in scored.items():
        table = Table(
            "field", "proposed", "expected", "correct", "precision", "recall", title=f"record extraction: {name}"
        )
        for field_name, row in scores["fields"].items():
            if row["proposed"] or row["expected"]:
                table.add_row(
                    field_name,
                    *(str(row.get(key, "")) for key in ("proposed", "expected", "correct", "precision", "recall")),
                )
        Console().print(table)
        if scores["unexpected_dates"]:
            Console().print(f"{name}: event dates no hand record holds: {', '.join(scores['unexpected_dates'])}")


def _extraction_scores(corpus_dir: Path, ner: bool) -> dict[str, Any]:
    if not corpus_dir.is_dir():
        raise _fail(f"{corpus_dir} is not a directory of documents with record files", 2)
    try:
        if ner:
            from api.bench.extraction_ner import compare
            from records.ner import NerUnavailable

            try:
                return compare(corpus_dir)
            except NerUnavailable as exc:
                raise _fail(str(exc), 2) from None
        from api.bench.extraction_eval import run_extraction_eval

        return run_extraction_eval(corpus_dir)
    except ValueError as exc:  # a malformed split file
        raise _fail(str(exc), 2) from None


def _print_ner_comparison(result: dict[str, Any]) -> None:
    for split, fields in result.items():
        table = Table("field", "rules P/R", "model P/R", "shipped P/R", title=f"NER model vs rules: {split}")
        for field_name, readings in fields.items():
            table.add_row(field_name, *(f"{r['precision']} / {r['recall']}" for r in readings.values()))
        Console().print(table)


def _mount_subcommands() -> None:
    from api.cli.bench import app as bench_app
    from api.cli.db import app as db_app
    from api.cli.feedback import app as feedback_app
    from api.cli.model import app as model_app
    from api.cli.records import app as records_app
    from api.cli.serve import serve

    app.add_typer(model_app, name="model", help="build or inspect the embedding model")
    app.add_typer(records_app, name="records", help="structured records")
    app.add_typer(feedback_app, name="feedback", help="readers' ratings and refused questions (CSV export)")
    app.add_typer(db_app, name="db", help="the database's schema: renkei db upgrade")
    app.add_typer(bench_app, name="bench", help="benchmarks (JSON report; see docs/benchmarks.md)")
    app.command(help="serve the chat page and API (uvicorn)")(serve)


_mount_subcommands()


def _assistant() -> Assistant:
    from assistant.service import Assistant
    from knowledge.base import KnowledgeBase

    settings = _checked_settings()
    kb = KnowledgeBase(settings)
    return Assistant(kb, kb.engine, settings)


@app.command()
def ask(
    question: str,
    ward: Annotated[str | None, typer.Option(help="the asker's ward (for 私の区)")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD (default: today)")] = None,
    conversation: Annotated[str | None, typer.Option(help="conversation id for follow-ups")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Ask a question and print the answer with its citations."""
    from pydantic import ValidationError

    from api.inputs import message_problem
    from assistant.errors import InvalidRequest
    from assistant.schemas import ChatRequest

    try:
        request = ChatRequest(message=question, ward=ward, as_of=as_of, conversation_id=conversation)
        if (problem := message_problem(request.message)) is not None:
            raise _fail(problem[1], 2)
        answer = _assistant().answer(request)
    except ValidationError as exc:
        raise _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()), 2) from None
    except InvalidRequest as exc:
        raise _fail(str(exc), 2) from None
    _skip_teardown()  # nothing is left to write but the answer
    if as_json:
        _print_json(answer.model_dump(mode="json"))
        return
    out = Console()
    out.print(answer.answer, markup=False)
    for citation in answer.citations:
        out.print(f"[dim][{citation.n}] {citation.document_id} — {citation.section}[/dim]")


@app.command()
def fit(
    suite: Annotated[
        Path, typer.Option(help="the suite of question sets", show_default="api/bench/questions/eval_sets.yaml")
    ] = SUITE_FILE,
    out: Annotated[Path | None, typer.Option(help="where to write the weights (default: the packaged model)")] = None,
    work_dir: Annotated[Path, typer.Option(help="data dirs of the suite's corpora (kept between runs)")] = Path(
        "var/eval"
    ),
) -> None:
    """Fit the answer layer's weights on the tune sets (never field-check) and write them to a data file."""
    from api.bench.fitting import fit_answer_model, write_answer_model
    from api.bench.question_sets import load_suite
    from assistant.answer_model import MODEL_FILE

    model, provenance = fit_answer_model(load_suite(suite), work_dir, get_settings())
    path = write_answer_model(model, provenance, out or MODEL_FILE)
    _print_json({"written": str(path), **provenance})


@app.command(name="eval")
def evaluate(
    questions: Path,
    retrieval: Annotated[
        bool, typer.Option("--retrieval", help="score retrieval (recall@k, MRR) instead of answers")
    ] = False,
    extraction: Annotated[
        bool,
        typer.Option(
            "--extraction", help="score record extraction on QUESTIONS (a corpus dir) against its record files"
        ),
    ] = False,
    suite: Annotated[
        bool, typer.Option("--suite", help="QUESTIONS is a suite file: score each set over its own corpus")
    ] = False,
    only: Annotated[list[str] | None, typer.Option(help="with --suite: only these sets")] = None,
    work_dir: Annotated[Path, typer.Option(help="with --suite: data dirs of the corpora")] = Path("var/eval"),
    ner: Annotated[
        bool, typer.Option("--ner", help="with --extraction: the NER model against the rules, per field and split")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    min_pass: Annotated[float, typer.Option(help="exit non-zero below this answer pass rate")] = 0.9,
) -> None:
    """Score answers (pass rate, citation validity, refusals, latency) or retrieval on a question file."""
    import yaml

    from api.bench.evaluation import evaluate_answers, evaluate_retrieval
    from api.bench.question_sets import load_questions

    if suite:
        _evaluate_suite(questions, only or [], work_dir, as_json)
        return
    if extraction:
        result = _extraction_scores(questions, ner)
        if as_json:
            _print_json(result)
        elif ner:
            _print_ner_comparison(result)
        else:
            _print_extraction(result)
        return
    try:
        items = load_questions(questions)
    except (OSError, ValueError, TypeError, yaml.YAMLError) as exc:
        raise _fail(f"cannot read the question file {questions}: {exc}", 2) from None
    assistant = _assistant()
    if retrieval:
        report = evaluate_retrieval(assistant.kb, items)
        if as_json:
            _print_json(report)
            return
        table = Table("mode", "recall@1", "recall@3", "recall@5", "MRR", "read 1000", "p95 ms", title="retrieval")
        for mode in ("dense", "lexical", "hybrid"):
            row = report[mode]
            table.add_row(
                mode,
                *(str(row[key]) for key in ("recall@1", "recall@3", "recall@5", "mrr", "read_1000_chars", "p95_ms")),
            )
        Console().print(table)
        return
    report = evaluate_answers(assistant, items)
    if as_json:
        _print_json(report)
    else:
        out = Console()
        table = Table("metric", "value", title=f"eval {questions}")
        for key in (
            "questions",
            "passed",
            "pass_rate",
            "citation_validity",
            "refusal_rate",
            "by_kind",
            "by_persona",
            "answer_chars_mean",
            "latency_p50_ms",
            "latency_p95_ms",
        ):
            table.add_row(key, str(report[key]))
        out.print(table)
        for failure in report["failures"]:
            out.print(f"[red]FAIL {failure['id']}[/red] {failure['reasons']}\n  {failure['answer']}", markup=True)
    failed = report["pass_rate"] < min_pass or report["citation_validity"] < 1.0
    raise typer.Exit(1 if failed else 0)


SUITE_COLUMNS = ("questions", "pass_rate", "citation_validity", "unanswerable_refused", "answerable_refused",
                 "latency_p95_ms")  # fmt: skip


def _evaluate_suite(path: Path, only: list[str], work_dir: Path, as_json: bool) -> None:
    from api.bench.evaluation import evaluate_suite
    from api.bench.question_sets import load_suite

    reports = evaluate_suite(load_suite(path), work_dir, get_settings(), only)
    if as_json:
        _print_json(reports)
        return
    table = Table("set", *SUITE_COLUMNS, title=f"eval {path}")
    for name, report in reports.items():
        table.add_row(name, *(str(report[key]) for key in SUITE_COLUMNS))
    Console().print(table)


if __name__ == "__main__":
    app()
