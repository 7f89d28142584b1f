"""Event kinds, loaded once from ``records/data/event_kinds.yaml``: ids, labels and the words naming them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from knowledge.text import compact

EVENT_KINDS_FILE = Path(__file__).parent / "data" / "event_kinds.yaml"


@dataclass(frozen=True)
class EventKind:
    id: str
    label: str
    question_words: tuple[str, ...]


def load_event_kinds(path: Path = EVENT_KINDS_FILE) -> tuple[EventKind, ...]:
    items = yaml.safe_load(path.read_text(encoding="utf-8"))
    return tuple(
        EventKind(item["id"], item["label"], tuple(compact(word) for word in item.get("question_words") or ()))
        for item in items
    )


EVENT_KIND_LIST: tuple[EventKind, ...] = load_event_kinds()
# id → Japanese label, in the file's order (the schema and the API validate kinds against these keys).
EVENT_KINDS: dict[str, str] = {kind.id: kind.label for kind in EVENT_KIND_LIST}


def kind_named_in(text: str) -> str | None:
    """The event kind a (compacted) question names, most specific first."""
    return next((kind.id for kind in EVENT_KIND_LIST if any(word in text for word in kind.question_words)), None)
