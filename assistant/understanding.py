"""Understanding a message: intent and the entities in it (wards, blocks, event kinds, dates, attributes)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from records.reference import CITY_NAME, OSAKA_WARDS

# Event kinds (keys of records.models.EVENT_KINDS) and the words that name them, most specific first.
EVENT_KIND_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("joint_training", ("合同研修",)),
    ("briefing", ("区担当者等説明会", "担当者説明会", "説明会")),
    ("liaison_meeting", ("連絡会",)),
    ("report_meeting", ("活動報告会", "報告会")),
    ("onboarding", ("新任研修", "新任者研修", "新任コーディネーター研修", "新任コーディネーター向け")),
    ("block_training", ("ブロック研修", "ブロック別", "多職種研修", "ブロックの研修", "区の研修", "研修会", "研修")),
)
ATTRIBUTE_WORDS: dict[str, tuple[str, ...]] = {
    "date": ("いつ", "何日", "日時", "日程", "何月", "開催日", "曜日", "何時", "時間"),
    "venue": ("どこ", "場所", "会場", "開催地"),
    "affiliation": ("所属", "どこの先生", "どこの医師", "病院", "クリニック"),
    "lecturer": ("講師", "誰", "だれ", "講演者", "先生"),
    "participants": ("何人", "何名", "参加者数", "参加人数", "人数", "新任は", "うち新任"),
    "theme": ("テーマ", "内容", "演題", "プログラム"),
    "members": ("どの区", "どこの区", "何区", "含まれ", "構成", "属する", "所属する区", "どのブロック", "何ブロック"),
    "survey": ("回収率", "回収数", "アンケート", "回答数"),
    "which_wards": ("区はどこ", "どの区", "どこの区", "何区", "区は何"),
}
EVENT_FACTS = frozenset({"date", "venue", "lecturer", "affiliation", "participants"})
NEXT_WORDS = ("次", "今後", "この後", "これから", "予定", "来月", "今月", "直近", "今日", "本日", "upcoming")
# Words that make a question about what was said or done, even when it mentions 今後 or 研修会.
TOPIC_CUES = ("要望", "意見", "感想", "内容", "目的", "課題", "取組", "取り組")
MY_WARD_WORDS = ("私の区", "わたしの区", "うちの区", "自分の区", "当区", "我が区", "私の所属", "うちの")
PEER_WORDS = ("他の区", "ほかの区", "他区", "各区", "よその区", "他の区役所", "ほかの区役所", "先進区")
GREETINGS = ("こんにちは", "こんばんは", "おはよう", "はじめまして", "ありがとう", "よろしく", "hello", "hi", "thanks")
MONTH_DAY_RE = re.compile(r"([0-9]{1,2})月([0-9]{1,2})日")
PART_RE = re.compile(r"第\s*([0-9]+)\s*部")
BLOCK_RE = re.compile(r"([東西南北中]{1,2})ブロック")
FOLLOW_UP_MAX_CHARS = 16
FOLLOW_UP_STARTS = ("そのうち", "その", "では", "じゃあ", "それ", "あと", "また", "で、")


def normalise(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


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
    month_days: list[tuple[int, int]] = field(default_factory=list)  # 9月28日 → (9, 28)
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
    for ward in sorted(OSAKA_WARDS, key=len, reverse=True):
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


def understand(
    message: str, *, ward: str | None = None, as_of: date | None = None, venues: Sequence[str] = ()
) -> Understanding:
    text = normalise(message)
    result = Understanding(text=text, as_of=as_of)
    result.venue = next((venue for venue in venues if normalise(venue) in text), None)
    result.month_days = [(int(m.group(1)), int(m.group(2))) for m in MONTH_DAY_RE.finditer(text)]
    result.wards = find_wards(text.replace(CITY_NAME, ""))
    result.blocks = [f"{m.group(1)}ブロック" for m in BLOCK_RE.finditer(text)]
    part = PART_RE.search(text)
    result.part = f"第{part.group(1)}部" if part else None
    result.event_kind = next(
        (kind for kind, words in EVENT_KIND_WORDS if any(word in text for word in words)), None
    )
    result.attributes = [name for name, words in ATTRIBUTE_WORDS.items() if any(word in text for word in words)]
    if "いつから" in text or "いつ頃から" in text:  # since when an activity runs, not the date of one event
        result.attributes = [name for name in result.attributes if name != "date"] + ["since"]
    if result.event_kind is None and result.blocks and set(result.attributes) & EVENT_FACTS:
        result.event_kind = "block_training"  # 「南ブロックの講師は？」: blocks hold only their trainings
    result.wants_next = any(word in text for word in NEXT_WORDS)
    result.my_ward = any(word in text for word in MY_WARD_WORDS) or (
        ward is not None and not result.wards and not result.blocks and result.event_kind == "block_training"
    )
    result.intent = classify(result)
    return result


def classify(u: Understanding) -> str:
    text = u.text
    if len(text) <= 20 and any(greeting in text.lower() for greeting in GREETINGS) and not u.has_subject:
        return "greeting"
    if any(word in text for word in PEER_WORDS):
        return "peer_practice"
    if "members" in u.attributes and (u.blocks or u.wards):
        return "record"
    event_facts = EVENT_FACTS | {"which_wards"}
    if "survey" in u.attributes and (u.event_kind or u.part):
        return "record"
    if u.event_kind and u.event_kind != "block_training" and set(u.attributes) & (event_facts | {"theme"}):
        return "record"
    about_topic = any(cue in text for cue in TOPIC_CUES)
    wants_next = u.wants_next and not about_topic
    if u.event_kind and u.event_kind != "block_training" and wants_next:
        return "record"  # 次回の合同研修会は？
    named_event = bool(u.venue or u.month_days)
    if u.event_kind == "block_training" and (u.blocks or u.wards or u.my_ward or wants_next or named_event) and (
        set(u.attributes) & (event_facts | {"theme", "members"}) or wants_next or u.my_ward
    ):
        return "record"
    return "how_to"


def is_follow_up(message: str, u: Understanding) -> bool:
    """A short message that leans on the previous turn (「講師は？」「そのうち新任は？」)."""
    text = u.text
    if u.event_kind or u.blocks or u.part:
        return text.startswith(FOLLOW_UP_STARTS) and len(text) <= FOLLOW_UP_MAX_CHARS
    return len(text) <= FOLLOW_UP_MAX_CHARS or text.startswith(FOLLOW_UP_STARTS)
