"""The ``renkei`` command line. Commands stay thin: they call into the packages."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="renkei: 在宅医療・介護連携 knowledge assistant")


@app.callback()
def main() -> None:
    """renkei command line."""
