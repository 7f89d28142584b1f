"""``renkei serve``: run the API and the chat page with uvicorn."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from fastapi import FastAPI


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port", min=1, max=65535)] = 8000,
) -> None:
    """Serve the chat page at / and the HTTP API under /api (docs at /docs)."""
    import uvicorn

    from knowledge.config import get_settings
    from knowledge.health import DataDirError, check_data_dir

    try:
        check_data_dir(get_settings())
    except DataDirError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None

    factory: Callable[[], FastAPI] | str = "api.app:create_app"
    if ctx.obj is not None:  # a test's ingest hooks (ingest.pipeline.IngestHooks), passed by app(obj=...)
        from api.app import create_app

        factory = partial(create_app, ingest_hooks=ctx.obj)
    uvicorn.run(factory, factory=True, host=host, port=port, log_level="info")


if __name__ == "__main__":
    typer.run(serve)
