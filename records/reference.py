"""Reference data: the municipality and its wards in official order, read from a data file at start-up."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import yaml

from knowledge.config import StorageSettings
from knowledge.text import compact

MUNICIPALITY_FILE = Path(__file__).parent / "data" / "municipality.yaml"


@dataclass(frozen=True)
class Municipality:
    city: str
    wards: tuple[str, ...]


def load_municipality(path: Path) -> Municipality:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Municipality(city=str(data["city"]), wards=tuple(str(ward) for ward in data["wards"]))


def _configured_file() -> Path:
    """``RENKEI_MUNICIPALITY_FILE`` (the storage settings), else the packaged file."""
    return StorageSettings().municipality_file or MUNICIPALITY_FILE


MUNICIPALITY = load_municipality(_configured_file())
CITY_NAME = MUNICIPALITY.city
WARDS: tuple[str, ...] = MUNICIPALITY.wards


def ward_aliases(ward: str) -> tuple[str, ...]:
    """Other ways a ward is written: 大阪市北区, 北区役所, and the bare stem (北) is deliberately excluded."""
    return (f"{CITY_NAME}{ward}", f"{ward}役所", ward)


def canonical_ward_name(text: str) -> str | None:
    """The official ward name for any alias (大阪市北区, 北区役所, 北区, full-width or spaced), else None."""
    wanted = compact(text)
    for ward in WARDS:
        if wanted in ward_aliases(ward):
            return ward
    return None


def close_ward_names(text: str, limit: int = 3) -> list[str]:
    """Ward names that look like ``text`` (for "did you mean" messages)."""
    wanted = compact(text)
    wanted = wanted.removeprefix(CITY_NAME).removesuffix("役所")
    candidates = list(WARDS)
    matches = difflib.get_close_matches(wanted, candidates, n=limit, cutoff=0.4)
    if not matches and not wanted.endswith("区"):
        matches = difflib.get_close_matches(f"{wanted}区", candidates, n=limit, cutoff=0.4)
    return matches
