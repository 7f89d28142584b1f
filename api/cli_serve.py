"""``renkei serve``: run the API and the chat page with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer


def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port", min=1, max=65535)] = 8000,
) -> None:
    """Serve the chat page at / and the HTTP API under /api (docs at /docs)."""
    import uvicorn

    from knowledge.health import DataDirError, check_data_dir
    from knowledge.settings import get_settings

    try:
        check_data_dir(get_settings())
    except DataDirError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None

    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, log_level="info")


if __name__ == "__main__":
    typer.run(serve)
