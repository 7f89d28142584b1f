"""Japanese date handling: era dates (令和/平成/昭和), ISO dates, time ranges and fiscal years.

Everything is normalised with NFKC first, so full-width digits and punctuation
(``令和５年９月19日（火）``, ``14：00～17：00``) parse like their ASCII forms.
Japanese fiscal years run April–March and are named by the Western year they start in
(令和5年度 = FY2023 = 2023-04-01 … 2024-03-31).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, time, timedelta

__all__ = [
    "ERAS",
    "RecordDateError",
    "fiscal_year_of",
    "fiscal_year_range",
    "format_era_date",
    "format_era_fiscal_year",
    "format_month_day",
    "format_time_range",
    "parse_date",
    "parse_fiscal_year",
    "parse_month_period",
    "parse_time",
    "parse_time_range",
]


class RecordDateError(ValueError):
    """A date, time or fiscal year that cannot be read or does not exist."""

    def __init__(self, text: object, reason: str) -> None:
        super().__init__(f"{reason}: {text!r}")
        self.text = text
        self.reason = reason


@dataclass(frozen=True)
class Era:
    name: str  # 令和
    letter: str  # R
    first_year: int  # Western year of the era's year 1 (元年)
    start: date  # first day of the era


ERAS: tuple[Era, ...] = (
    Era("令和", "R", 2019, date(2019, 5, 1)),
    Era("平成", "H", 1989, date(1989, 1, 8)),
    Era("昭和", "S", 1926, date(1926, 12, 25)),
)
_ERA_BY_KEY = {key: era for era in ERAS for key in (era.name, era.letter)}
_WEEKDAYS = "月火水木金土日"

_ERA_YEAR = r"(?P<era>令和|平成|昭和|[RHS])\s*(?P<eyear>元|\d{1,2})"
_ERA_DATE_RE = re.compile(
    rf"^{_ERA_YEAR}\s*(?:年\s*(?P<m1>\d{{1,2}})\s*月\s*(?P<d1>\d{{1,2}})\s*日"
    rf"|[./-]\s*(?P<m2>\d{{1,2}})\s*[./-]\s*(?P<d2>\d{{1,2}}))"
    r"\s*(?:\(\s*(?P<wd>[月火水木金土日])(?:曜日?)?\s*\))?$",
    re.IGNORECASE,
)
_WESTERN_DATE_RE = re.compile(
    r"^(?P<y>\d{4})\s*(?:[-/.]\s*(?P<m1>\d{1,2})\s*[-/.]\s*(?P<d1>\d{1,2})"
    r"|年\s*(?P<m2>\d{1,2})\s*月\s*(?P<d2>\d{1,2})\s*日)"
    r"\s*(?:\(\s*(?P<wd>[月火水木金土日])(?:曜日?)?\s*\))?$"
)
_TIME_RE = re.compile(
    r"^(?P<meridiem>午前|午後)?\s*(?P<h>\d{1,2})\s*(?::\s*(?P<m1>\d{2})|時\s*(?:(?P<m2>\d{1,2})\s*分|半)?)$"
)
_RANGE_SEP_RE = re.compile(r"\s*(?:[~〜\-－–—]|から)\s*")
_FY_RE = re.compile(rf"^(?:{_ERA_YEAR}\s*年度?|(?:FY\s*)?(?P<wyear>\d{{4}})\s*(?:年度)?)$", re.IGNORECASE)
_MONTH_RE = re.compile(rf"^(?:{_ERA_YEAR}\s*年\s*|(?P<wyear>\d{{4}})\s*年\s*)?(?P<month>\d{{1,2}})\s*月$")


def normalise(text: str) -> str:
    """NFKC plus whitespace trimming; full-width ５ → 5, （ → (, ： → :, ～ → ~."""
    return unicodedata.normalize("NFKC", text).strip()


def _era_year(era_key: str, year_text: str, original: object) -> tuple[Era, int]:
    era = _ERA_BY_KEY[era_key.upper() if len(era_key) == 1 else era_key]
    number = 1 if year_text == "元" else int(year_text)
    if number < 1:
        raise RecordDateError(original, "era year must be 1 (元年) or more")
    return era, era.first_year + number - 1


def _make_date(year: int, month: int, day: int, original: object) -> date:
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise RecordDateError(original, f"no such date ({exc})") from None


def _check_weekday(value: date, weekday: str | None, original: object) -> None:
    if weekday and _WEEKDAYS[value.weekday()] != weekday:
        actual = _WEEKDAYS[value.weekday()]
        raise RecordDateError(original, f"weekday （{weekday}） does not match {value.isoformat()} （{actual}）")


def parse_date(text: str | date) -> date:
    """Parse 令和５年９月19日（火）, 令和元年5月1日, R5.9.19, H30/11/10, 2023-09-19, 2023年9月19日.

    A weekday in brackets is checked against the date. Raises :class:`RecordDateError`.
    """
    if isinstance(text, date):
        return text
    if not isinstance(text, str):
        raise RecordDateError(text, "expected a date string")
    value = normalise(text)
    if match := _ERA_DATE_RE.match(value):
        era, year = _era_year(match["era"], match["eyear"], text)
        month, day = int(match["m1"] or match["m2"]), int(match["d1"] or match["d2"])
        result = _make_date(year, month, day, text)
        if result < era.start:
            raise RecordDateError(text, f"{era.name} began on {era.start.isoformat()}")
        if era_of(result) is not era:
            raise RecordDateError(text, f"{era.name} had ended by {result.isoformat()}")
    elif match := _WESTERN_DATE_RE.match(value):
        month, day = int(match["m1"] or match["m2"]), int(match["d1"] or match["d2"])
        result = _make_date(int(match["y"]), month, day, text)
    else:
        raise RecordDateError(text, "unrecognised date (use 令和5年9月19日, R5.9.19 or 2023-09-19)")
    _check_weekday(result, match["wd"], text)
    return result


def parse_time(text: str | time) -> time:
    """Parse 14:00, １４：００, 14時, 15時15分, 9時半."""
    if isinstance(text, time):
        return text
    if not isinstance(text, str):
        raise RecordDateError(text, "expected a time string such as '14:00'")
    match = _TIME_RE.match(normalise(text))
    if not match:
        raise RecordDateError(text, "unrecognised time (use 14:00 or 14時15分)")
    hour = int(match["h"])
    minute = 30 if match[0].endswith("半") else int(match["m1"] or match["m2"] or 0)
    if match["meridiem"] and hour > 12:
        raise RecordDateError(text, "午前/午後 with a 24-hour time")
    if match["meridiem"] == "午後" and hour < 12:
        hour += 12
    if hour > 23 or minute > 59:
        raise RecordDateError(text, "no such time")
    return time(hour, minute)


def parse_time_range(text: str) -> tuple[time, time | None]:
    """Parse 14：00～17：00, 14時～15時15分, 15時30分～17時, 14時から15時30分まで, 午後1時30分～3時
    or a single start time. An end without 午前/午後 after a 午後 start is in the afternoon too."""
    if not isinstance(text, str):
        raise RecordDateError(text, "expected a time range such as '14:00~17:00'")
    parts = _RANGE_SEP_RE.split(normalise(text).removesuffix("まで"))
    if len(parts) == 1 or (len(parts) == 2 and not parts[1]):
        return parse_time(parts[0]), None
    if len(parts) != 2:
        raise RecordDateError(text, "unrecognised time range (use 14:00~17:00)")
    start, end = parse_time(parts[0]), parse_time(parts[1])
    if parts[0].startswith("午後") and not parts[1].startswith(("午前", "午後")) and end.hour < 12:
        end = time(end.hour + 12, end.minute)
    if end <= start:
        raise RecordDateError(text, "the end time is not after the start time")
    return start, end


def fiscal_year_of(value: date) -> int:
    """The Japanese fiscal year (April–March) a date falls in, named by its starting year."""
    return value.year if value.month >= 4 else value.year - 1


def fiscal_year_range(fiscal_year: int) -> tuple[date, date]:
    """First and last day of a fiscal year."""
    return date(fiscal_year, 4, 1), date(fiscal_year + 1, 3, 31)


def parse_fiscal_year(text: str | int) -> int:
    """Parse 令和５年度, 令和元年度, 平成30年度, R5年度, 2023年度, FY2023 or 2023 into 2023-style years."""
    if isinstance(text, bool):
        raise RecordDateError(text, "expected a fiscal year")
    if isinstance(text, int):
        if not 1900 <= text <= 2200:
            raise RecordDateError(text, "fiscal year out of range")
        return text
    if not isinstance(text, str):
        raise RecordDateError(text, "expected a fiscal year such as '令和5年度' or 2023")
    match = _FY_RE.match(normalise(text))
    if not match:
        raise RecordDateError(text, "unrecognised fiscal year (use 令和5年度 or 2023)")
    if match["wyear"]:
        return parse_fiscal_year(int(match["wyear"]))
    return _era_year(match["era"], match["eyear"], text)[1]


def _parse_month(text: str, default_year: int | None, original: object) -> tuple[int, int, bool]:
    """(year, month, whether the year was written)."""
    match = _MONTH_RE.match(text)
    if not match:
        raise RecordDateError(original, "unrecognised month (use 令和5年4月)")
    if match["era"]:
        year = _era_year(match["era"], match["eyear"], original)[1]
    elif match["wyear"]:
        year = int(match["wyear"])
    elif default_year is not None:
        year = default_year
    else:
        raise RecordDateError(original, "the period does not start with a year")
    month = int(match["month"])
    if not 1 <= month <= 12:
        raise RecordDateError(original, "no such month")
    return year, month, bool(match["era"] or match["wyear"])


def parse_month_period(text: str) -> tuple[date, date | None]:
    """Parse month periods: 令和５年５月～ (open), 令和５年４月～６月, 令和5年10月～令和6年3月.

    Returns (first day of the first month, last day of the last month or None if open).
    """
    if not isinstance(text, str):
        raise RecordDateError(text, "expected a period such as '令和5年4月~6月'")
    parts = _RANGE_SEP_RE.split(normalise(text))
    if len(parts) > 2:
        raise RecordDateError(text, "unrecognised period")
    start_year, start_month, _ = _parse_month(parts[0], None, text)
    start = date(start_year, start_month, 1)
    if len(parts) == 1 or not parts[1]:
        return start, None
    end_year, end_month, explicit_year = _parse_month(parts[1], start_year, text)
    if (end_year, end_month) < (start_year, start_month):
        if explicit_year:
            raise RecordDateError(text, "the period ends before it starts")
        end_year += 1  # 10月～3月 crosses the new year
    next_month = date(end_year + end_month // 12, end_month % 12 + 1, 1)
    return start, next_month - timedelta(days=1)


def era_of(value: date) -> Era:
    for era in ERAS:
        if value >= era.start:
            return era
    raise RecordDateError(value, "dates before 昭和 are not supported")


def _era_year_text(era: Era, western_year: int) -> str:
    number = western_year - era.first_year + 1
    return f"{era.name}{'元' if number == 1 else number}年"


def format_era_date(value: date, *, weekday: bool = False) -> str:
    """令和5年9月19日 (ASCII digits; add （火） with ``weekday=True``)."""
    text = f"{_era_year_text(era_of(value), value.year)}{value.month}月{value.day}日"
    return f"{text}（{_WEEKDAYS[value.weekday()]}）" if weekday else text


def format_era_fiscal_year(fiscal_year: int) -> str:
    """令和5年度 for 2023, 令和元年度 for 2019, 平成30年度 for 2018."""
    # the era in force at the end of the fiscal year's first calendar year: FY2019 is 令和元年度
    return f"{_era_year_text(era_of(date(fiscal_year, 12, 31)), fiscal_year)}度"


def format_month_day(value: date) -> str:
    """9月19日."""
    return f"{value.month}月{value.day}日"


def format_time_range(start: time | None, end: time | None) -> str:
    """14:00～17:00 (or just the start)."""
    if start is None:
        return ""
    text = f"{start.hour}:{start.minute:02d}"
    if end is None:
        return text
    return f"{text}～{end.hour}:{end.minute:02d}"
