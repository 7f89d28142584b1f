"""``python -m api.cli ...``: the ``renkei`` command line."""

from api.cli.main import app

app()
