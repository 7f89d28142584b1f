"""Japanese era dates, times and fiscal years."""

from __future__ import annotations

from datetime import date, time

import pytest

from records.dates import (
    RecordDateError,
    fiscal_year_of,
    fiscal_year_range,
    format_era_date,
    format_era_fiscal_year,
    format_time_range,
    parse_date,
    parse_fiscal_year,
    parse_month_period,
    parse_time,
    parse_time_range,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("令和５年９月19日（火）", date(2023, 9, 19)),
        ("令和5年9月19日", date(2023, 9, 19)),
        ("令和５年10月５日（木）", date(2023, 10, 5)),
        ("令和 5 年 9 月 19 日", date(2023, 9, 19)),
        ("R5.9.19", date(2023, 9, 19)),
        ("r5.9.19", date(2023, 9, 19)),
        ("R5/9/19", date(2023, 9, 19)),
        ("Ｒ５．９．１９", date(2023, 9, 19)),
        ("平成30年11月10日", date(2018, 11, 10)),
        ("H30.11.10", date(2018, 11, 10)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("令和元年５月１日（水）", date(2019, 5, 1)),
        ("平成31年4月30日", date(2019, 4, 30)),
        ("平成元年1月8日", date(1989, 1, 8)),
        ("昭和64年1月7日", date(1989, 1, 7)),
        ("2023-09-19", date(2023, 9, 19)),
        ("２０２３－０９－１９", date(2023, 9, 19)),
        ("2023/9/19", date(2023, 9, 19)),
        ("2023年9月19日（火曜日）", date(2023, 9, 19)),
        (date(2023, 9, 19), date(2023, 9, 19)),
    ],
)
def test_parse_date(text: str | date, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("令和5年2月30日", "no such date"),
        ("令和5年13月1日", "no such date"),
        ("R5.2.29", "no such date"),
        ("2023-02-29", "no such date"),
        ("令和５年９月19日（水）", "weekday"),
        ("平成31年5月1日", "had ended"),
        ("令和元年4月30日", "began on"),
        ("令和0年1月1日", "era year"),
        ("9月19日", "unrecognised date"),
        ("来週の火曜日", "unrecognised date"),
        ("", "unrecognised date"),
    ],
)
def test_invalid_dates_raise_with_the_input_in_the_message(text: str, reason: str) -> None:
    with pytest.raises(RecordDateError) as caught:
        parse_date(text)
    assert reason in str(caught.value)
    assert repr(text) in str(caught.value)


def test_record_date_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="令和5年2月30日"):
        parse_date("令和5年2月30日")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("14：00", time(14, 0)),
        ("14:00", time(14, 0)),
        ("9:05", time(9, 5)),
        ("14時", time(14, 0)),
        ("15時15分", time(15, 15)),
        ("１５時３０分", time(15, 30)),
        ("9時半", time(9, 30)),
        ("午後2時", time(14, 0)),
        ("午前10時30分", time(10, 30)),
    ],
)
def test_parse_time(text: str, expected: time) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["25:00", "14:60", "午後13時", "14"])
def test_invalid_times(text: str) -> None:
    with pytest.raises(RecordDateError, match="time"):
        parse_time(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("14：00～17：00", (time(14), time(17))),
        ("14:00~17:00", (time(14), time(17))),
        ("14時～15時15分", (time(14), time(15, 15))),
        ("15時30分～17時", (time(15, 30), time(17))),
        ("14時～17時", (time(14), time(17))),
        ("10:00-12:00", (time(10), time(12))),
        ("14:00〜", (time(14), None)),
        ("14:00", (time(14), None)),
    ],
)
def test_parse_time_range(text: str, expected: tuple[time, time | None]) -> None:
    assert parse_time_range(text) == expected


@pytest.mark.parametrize("text", ["17:00～14:00", "14:00～14:00", "14:00～15:00～16:00"])
def test_invalid_time_ranges(text: str) -> None:
    with pytest.raises(RecordDateError):
        parse_time_range(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2023, 4, 1), 2023),
        (date(2023, 9, 19), 2023),
        (date(2024, 3, 31), 2023),
        (date(2023, 3, 31), 2022),
        (date(2023, 2, 4), 2022),
        (date(2018, 11, 10), 2018),
    ],
)
def test_fiscal_year_of(value: date, expected: int) -> None:
    assert fiscal_year_of(value) == expected


def test_fiscal_year_range() -> None:
    assert fiscal_year_range(2023) == (date(2023, 4, 1), date(2024, 3, 31))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("令和５年度", 2023),
        ("令和5年度", 2023),
        ("令和元年度", 2019),
        ("令和4年", 2022),
        ("平成30年度", 2018),
        ("平成31年度", 2019),
        ("R5年度", 2023),
        ("2023年度", 2023),
        ("FY2023", 2023),
        ("2023", 2023),
        (2023, 2023),
    ],
)
def test_parse_fiscal_year(text: str | int, expected: int) -> None:
    assert parse_fiscal_year(text) == expected


@pytest.mark.parametrize("text", ["来年度", "令和年度", 99, True, "2023-04-01"])
def test_invalid_fiscal_years(text: object) -> None:
    with pytest.raises(RecordDateError):
        parse_fiscal_year(text)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("令和５年５月～", (date(2023, 5, 1), None)),
        ("令和５年４月～６月", (date(2023, 4, 1), date(2023, 6, 30))),
        ("令和5年10月～3月", (date(2023, 10, 1), date(2024, 3, 31))),
        ("令和5年10月～令和6年2月", (date(2023, 10, 1), date(2024, 2, 29))),
        ("2023年4月", (date(2023, 4, 1), None)),
    ],
)
def test_parse_month_period(text: str, expected: tuple[date, date | None]) -> None:
    assert parse_month_period(text) == expected


@pytest.mark.parametrize("text", ["５月～６月", "令和5年13月～", "令和6年3月～令和5年4月"])
def test_invalid_month_periods(text: str) -> None:
    with pytest.raises(RecordDateError):
        parse_month_period(text)


@pytest.mark.parametrize(
    ("value", "weekday", "expected"),
    [
        (date(2023, 9, 19), False, "令和5年9月19日"),
        (date(2023, 9, 19), True, "令和5年9月19日（火）"),
        (date(2019, 5, 1), False, "令和元年5月1日"),
        (date(2019, 4, 30), False, "平成31年4月30日"),
        (date(2018, 11, 10), False, "平成30年11月10日"),
    ],
)
def test_format_era_date_round_trips(value: date, weekday: bool, expected: str) -> None:
    assert format_era_date(value, weekday=weekday) == expected
    assert parse_date(expected) == value


@pytest.mark.parametrize(("year", "expected"), [(2023, "令和5年度"), (2019, "令和元年度"), (2018, "平成30年度")])
def test_format_era_fiscal_year_round_trips(year: int, expected: str) -> None:
    assert format_era_fiscal_year(year) == expected
    assert parse_fiscal_year(expected) == year


def test_format_time_range() -> None:
    assert format_time_range(time(14), time(17)) == "14:00～17:00"
    assert format_time_range(time(9, 5), None) == "9:05"
    assert format_time_range(None, None) == ""
