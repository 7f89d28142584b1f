"""Fixed reference data: the 24 wards (区) of Osaka City, in the city's official order."""

from __future__ import annotations

import difflib
import unicodedata

CITY_NAME = "大阪市"

OSAKA_WARDS: tuple[str, ...] = (
    "北区", "都島区", "福島区", "此花区", "中央区", "西区", "港区", "大正区",
    "天王寺区", "浪速区", "西淀川区", "淀川区", "東淀川区", "東成区", "生野区", "旭区",
    "城東区", "鶴見区", "阿倍野区", "住之江区", "住吉区", "東住吉区", "平野区", "西成区",
)


def ward_aliases(ward: str) -> tuple[str, ...]:
    """Other ways a ward is written: 大阪市北区, 北区役所, and the bare stem (北) is deliberately excluded."""
    return (f"{CITY_NAME}{ward}", f"{ward}役所", ward)


def _normalise_ward_text(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def canonical_ward_name(text: str) -> str | None:
    """The official ward name for any alias (大阪市北区, 北区役所, 北区, full-width or spaced), else None."""
    wanted = _normalise_ward_text(text)
    for ward in OSAKA_WARDS:
        if wanted in ward_aliases(ward):
            return ward
    return None


def close_ward_names(text: str, limit: int = 3) -> list[str]:
    """Ward names that look like ``text`` (for "did you mean" messages)."""
    wanted = _normalise_ward_text(text)
    wanted = wanted.removeprefix(CITY_NAME).removesuffix("役所")
    candidates = list(OSAKA_WARDS)
    matches = difflib.get_close_matches(wanted, candidates, n=limit, cutoff=0.4)
    if not matches and not wanted.endswith("区"):
        matches = difflib.get_close_matches(f"{wanted}区", candidates, n=limit, cutoff=0.4)
    return matches
