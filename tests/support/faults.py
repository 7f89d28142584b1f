"""Fault injection for the kill tests: ingest hooks that pause a run at one stage, and ``renkei`` run with them.

``python -m tests.support.faults STAGE MARKER ARGS...`` runs ``renkei ARGS...`` (``ingest --json``, ``serve --port P``)
with :class:`PauseAt` hooks: when an ingest (the command's own, or one the server's admin starts) reaches
STAGE, it writes STAGE to the file MARKER and sleeps for two minutes, long enough to be killed there.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ingest.pipeline import IngestHooks

PAUSE_SECONDS = 120.0


@dataclass
class PauseAt(IngestHooks):
    stage: str
    marker: Path
    seconds: float = PAUSE_SECONDS

    def reached(self, stage: str) -> None:
        if stage == self.stage:
            self.marker.write_text(stage)
            time.sleep(self.seconds)


@dataclass
class Recorder(IngestHooks):
    """The stages a run reached, in order."""

    stages: list[str] = field(default_factory=list)

    def reached(self, stage: str) -> None:
        self.stages.append(stage)


def paused_renkei(stage: str, marker: Path, *args: str) -> list[str]:
    """The command line of ``renkei ARGS`` whose ingest pauses at ``stage`` (writing ``marker`` there)."""
    return [sys.executable, "-m", "tests.support.faults", stage, str(marker), *args]


def main(argv: list[str]) -> None:
    from api.cli.main import app

    stage, marker, *args = argv
    app(args, obj=PauseAt(stage, Path(marker)), prog_name="renkei")


if __name__ == "__main__":
    main(sys.argv[1:])
