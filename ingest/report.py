"""What an ingest run tells its caller: per-file outcomes and a summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

import yaml

Status = Literal["added", "updated", "unchanged", "deleted", "failed", "skipped"]
STATUSES: tuple[Status, ...] = ("added", "updated", "unchanged", "deleted", "failed", "skipped")


@dataclass
class FileOutcome:
    path: str
    status: Status
    document_id: str | None = None
    kind: Literal["document", "records"] = "document"
    stage: str | None = None
    reason: str | None = None
    chunks: int = 0


@dataclass
class IngestReport:
    run_id: str
    dry_run: bool = False
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    finished_at: str | None = None
    files: list[FileOutcome] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_removed: int = 0
    drafts_proposed: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, outcome: FileOutcome) -> None:
        self.files.append(outcome)

    @property
    def summary(self) -> dict[str, int]:
        counts = Counter(outcome.status for outcome in self.files)
        return {status: counts.get(status, 0) for status in STATUSES}

    @property
    def failed(self) -> list[FileOutcome]:
        return [outcome for outcome in self.files if outcome.status == "failed"]

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["summary"] = self.summary
        return data


class Progress(Protocol):
    def stage(self, name: str, total: int) -> None: ...

    def advance(self, amount: int = 1) -> None: ...


class NoProgress:
    def stage(self, name: str, total: int) -> None:
        pass

    def advance(self, amount: int = 1) -> None:
        pass


LABELS_FILE = Path(__file__).resolve().parent / "data" / "labels.yaml"


def load_labels() -> dict[str, dict[str, str]]:
    """Japanese labels of file statuses, stages, run and document states (``ingest/data/labels.yaml``)."""
    loaded: dict[str, dict[str, str]] = yaml.safe_load(LABELS_FILE.read_text(encoding="utf-8"))
    from ingest.metadata import DOC_TYPES

    for group, codes in (("file_status", STATUSES), ("doc_types", DOC_TYPES)):
        missing = set(codes) - set(loaded[group])
        if missing:
            raise ValueError(f"{LABELS_FILE}: no {group} label for {', '.join(sorted(missing))}")
    return loaded


LABELS = load_labels()
