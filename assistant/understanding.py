"""Understanding a message: intent and the entities in it (wards, blocks, event kinds, dates, attributes).

The words live in data (``assistant/data/vocabulary.yaml``, ``records/data/event_kinds.yaml``); wards and the
city come from ``records.reference``; the names the records hold (venues, lecturers, blocks) are passed in.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from assistant.vocabulary import vocabulary
from knowledge.text import compact
from knowledge.tokenizer import default_tokenizer
from records.event_kinds import kind_named_in
from records.reference import CITY_NAME, WARDS

MONTH_DAY_RE = re.compile(r"([0-9]{1,2})月([0-9]{1,2})日")
PART_RE = re.compile(r"第\s*([0-9]+)\s*部")
BLOCK_RE = re.compile(r"([東西南北中]{1,2})ブロック")
# A question is a greeting only when it is this short: longer messages carry a request.
GREETING_MAX_CHARS = 20


@dataclass
class Understanding:
    text: str  # NFKC, whitespace removed
    intent: str = "how_to"
    event_kind: str | None = None
    blocks: list[str] = field(default_factory=list)
    wards: list[str] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)
    part: str | None = None
    wants_next: bool = False
    my_ward: bool = False
    fiscal_year: int | None = None
    venue: str | None = None  # a known venue named in the message (住吉区民センターで開かれる研修)
    area: str | None = None  # a municipality the records hold events of (亘理町の研修会), named in the message
    month_days: list[tuple[int, int]] = field(default_factory=list)  # 9月28日 → (9, 28)
    names: list[str] = field(default_factory=list)  # proper nouns: places, organisations, people
    # the names no record holds: the question is about something the records are not
    foreign_names: list[str] = field(default_factory=list)
    as_of: date | None = None

    def entities(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("text")
        data.pop("as_of")
        return data

    @property
    def has_subject(self) -> bool:
        return bool(self.event_kind or self.blocks or self.wards or self.part)


def find_wards(text: str) -> list[str]:
    """Ward names in order of appearance; longer names first so 東淀川区 is not read as 淀川区."""
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for ward in sorted(WARDS, key=len, reverse=True):
        for match in re.finditer(re.escape(ward), text):
            span = (match.start(), match.end())
            if any(s < span[1] and span[0] < e for s, e in taken):
                continue
            # 北区民センター is a venue, not a mention of the ward itself
            if text[span[1] : span[1] + 2] == "民セ":
                continue
            taken.append(span)
            found.append((span[0], ward))
    return [ward for _, ward in sorted(found)]


def proper_nouns(message: str) -> list[str]:
    """Places, organisations and people the message names (Sudachi's 固有名詞), as written."""
    tokenizer = default_tokenizer()
    compounds = tokenizer.named_compounds(message, vocabulary().facility_heads)
    return list(dict.fromkeys([*tokenizer.proper_nouns(message), *compounds]))


def understand(
    message: str,
    *,
    ward: str | None = None,
    as_of: date | None = None,
    venues: Sequence[str] = (),
    record_names: Collection[str] = (),
    areas: Sequence[str] = (),
) -> Understanding:
    """``record_names``: the compacted names the records hold (venues, lecturers, titles, blocks); a proper
    noun of the message found in none of them, nor among the wards and the city, is a foreign name."""
    vocab = vocabulary()
    text = compact(message)
    result = Understanding(text=text, as_of=as_of)
    result.venue = next((venue for venue in venues if compact(venue) in text), None)
    result.area = next((area for area in areas if compact(area) in text), None)
    result.month_days = [(int(m.group(1)), int(m.group(2))) for m in MONTH_DAY_RE.finditer(text)]
    result.wards = find_wards(text.replace(CITY_NAME, ""))
    result.blocks = [f"{m.group(1)}ブロック" for m in BLOCK_RE.finditer(text)]
    part = PART_RE.search(text)
    result.part = f"第{part.group(1)}部" if part else None
    result.event_kind = kind_named_in(text)
    result.attributes = [name for name, words in vocab.attributes.items() if any(word in text for word in words)]
    if any(word in text for word in vocab.since_words):  # since when an activity runs, not one event's date
        result.attributes = [name for name in result.attributes if name != "date"] + ["since"]
    if result.event_kind is None and result.blocks and set(result.attributes) & vocab.event_facts:
        result.event_kind = "block_training"  # 「南ブロックの講師は？」: blocks hold only their trainings
    result.wants_next = any(word in text for word in vocab.next_words)
    result.my_ward = any(word in text for word in vocab.my_ward_words) or (
        ward is not None and not result.wards and not result.blocks and result.event_kind == "block_training"
    )
    result.names = proper_nouns(message)
    result.foreign_names = _foreign_names(result.names, record_names)
    result.intent = classify(result)
    return result


def _foreign_names(names: list[str], record_names: Collection[str]) -> list[str]:
    known = [CITY_NAME, *WARDS, *record_names]
    return [name for name in names if not any(compact(name) in other for other in known)]


def classify(u: Understanding) -> str:
    vocab = vocabulary()
    text = u.text
    if len(text) <= GREETING_MAX_CHARS and any(g in text.lower() for g in vocab.greetings) and not u.has_subject:
        return "greeting"
    if any(word in text for word in vocab.peer_words):
        return "peer_practice"
    if u.foreign_names:
        return "how_to"  # 吹田市の講師: no record is about it; the passages may be
    if u.area and u.event_kind and (set(u.attributes) & (vocab.event_facts | {"theme"}) or u.wants_next):
        return "record"  # 亘理町の研修会はどこで？: events accepted from that town's reports
    if "members" in u.attributes and (u.blocks or u.wards):
        return "record"
    event_facts = vocab.event_facts | {"which_wards"}
    if "survey" in u.attributes and (u.event_kind or u.part):
        return "record"
    if u.event_kind and u.event_kind != "block_training" and set(u.attributes) & (event_facts | {"theme"}):
        return "record"
    about_topic = any(cue in text for cue in vocab.topic_cues)
    wants_next = u.wants_next and not about_topic
    if u.event_kind and u.event_kind != "block_training" and wants_next:
        return "record"  # 次回の合同研修会は？
    named_event = bool(u.venue or u.month_days)
    if (
        u.event_kind == "block_training"
        and (u.blocks or u.wards or u.my_ward or wants_next or named_event)
        and (set(u.attributes) & (event_facts | {"theme", "members"}) or wants_next or u.my_ward)
    ):
        return "record"
    return "how_to"


def is_follow_up(message: str, u: Understanding) -> bool:
    """A short message that leans on the previous turn (「講師は？」「そのうち新任は？」)."""
    vocab = vocabulary()
    text = u.text
    short = len(text) <= vocab.follow_up_max_chars
    if u.event_kind or u.blocks or u.part or u.foreign_names:
        return text.startswith(vocab.follow_up_starts) and short
    return short or text.startswith(vocab.follow_up_starts)
