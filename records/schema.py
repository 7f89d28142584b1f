"""Pydantic models of a record file (see docs/records.md). One model per record type.

Validation is per record, so one bad record does not stop the others from loading.
"""

from __future__ import annotations

from datetime import date, time
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
    StringConstraints,
    model_validator,
)

from records.dates import fiscal_year_of, parse_date, parse_fiscal_year, parse_month_period, parse_time_range
from records.event_kinds import EVENT_KINDS
from records.models import EVENT_STATUSES, FINDING_CATEGORIES, SUBJECTS
from records.reference import canonical_ward_name, close_ward_names


def _ward(value: str) -> str:
    name = canonical_ward_name(value)
    if name is None:
        close = close_ward_names(value)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(f"unknown ward {value!r}{hint}")
    return name


def _percent(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip().rstrip("%％").strip()
    return value


def _unique(values: list[str]) -> list[str]:
    duplicates = sorted({v for v in values if values.count(v) > 1})
    if duplicates:
        raise ValueError(f"listed twice: {', '.join(duplicates)}")
    return values


RecordId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")]
Text = Annotated[str, StringConstraints(min_length=1)]
FiscalYear = Annotated[int, BeforeValidator(parse_fiscal_year)]
JpDate = Annotated[date, BeforeValidator(parse_date)]
TimeRange = Annotated[tuple[time, time | None], BeforeValidator(parse_time_range)]
WardName = Annotated[str, AfterValidator(_ward)]
WardList = Annotated[list[WardName], AfterValidator(_unique)]
Percent = Annotated[float, BeforeValidator(_percent), Field(ge=0, le=100)]
if TYPE_CHECKING:
    # Literals built from the code tables at run time, where pydantic checks them; to a type checker, strings.
    EventKind = str
    EventStatus = str
    Subject = str
    FindingCategory = str
else:
    EventKind = Literal[tuple(EVENT_KINDS)]
    EventStatus = Literal[tuple(EVENT_STATUSES)]
    Subject = Literal[tuple(SUBJECTS)]
    FindingCategory = Literal[tuple(FINDING_CATEGORIES)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RecordIn(Strict):
    """Fields every record has: its id and where it was transcribed from."""

    id: RecordId
    section: Text
    quote: Text
    document: Text | None = None  # overrides the file's document (path relative to the record file)


class BlockIn(RecordIn):
    name: Text
    fiscal_year: FiscalYear | None = None
    wards: Annotated[WardList, Field(min_length=1)]


class LecturerIn(Strict):
    name: Text | None = None
    title: Text | None = None  # 理事長, 院長, 代表
    affiliation: Text | None = None


class ParticipantIn(Strict):
    group: Text
    count: NonNegativeInt
    unit: Text = "名"
    subset_of: Text | None = None  # うち新任 30名 → subset_of: 区担当者
    quote: Text | None = None


class EventIn(RecordIn):
    kind: EventKind
    title: Text
    part: Text | None = None
    parent: RecordId | None = None
    theme: Text | None = None
    programme: list[Text] = []
    fiscal_year: FiscalYear | None = None
    date: JpDate | None = None
    time: TimeRange | None = None
    recurrence: Text | None = None
    status: EventStatus | None = None
    venue: Text | None = None
    area: Text | None = None  # the municipality or ward the event belongs to (亘理町), as written
    lecturer: LecturerIn | None = None
    audience: Text | None = None
    blocks: Annotated[list[Text], AfterValidator(_unique)] = []
    wards: WardList = []
    presenter_wards: WardList = []
    participants: list[ParticipantIn] = []
    note: Text | None = None

    @model_validator(mode="after")
    def _consistent(self) -> EventIn:
        if self.date and self.fiscal_year is not None and fiscal_year_of(self.date) != self.fiscal_year:
            raise ValueError(
                f"fiscal_year {self.fiscal_year} does not contain date {self.date.isoformat()} "
                f"(fiscal year {fiscal_year_of(self.date)})"
            )
        if self.time and not self.date:
            raise ValueError("time given without a date")
        if self.parent == self.id:
            raise ValueError("an event cannot be its own parent")
        seen: set[str] = set()
        for participant in self.participants:
            if participant.subset_of and participant.subset_of not in seen:
                raise ValueError(f"participants: subset_of {participant.subset_of!r} must name an earlier group")
            seen.add(participant.group)
        return self

    @property
    def resolved_fiscal_year(self) -> int | None:
        if self.fiscal_year is not None:
            return self.fiscal_year
        return fiscal_year_of(self.date) if self.date else None


class OptionIn(Strict):
    label: Text
    count: NonNegativeInt | None = None  # None: the report shows no figure for this option


def _option(value: Any) -> Any:
    return {"label": value} if isinstance(value, str) else value


class QuestionIn(Strict):
    text: Text
    quote: Text | None = None
    options: Annotated[list[Annotated[OptionIn, BeforeValidator(_option)]], Field(min_length=1)]


class SurveyIn(RecordIn):
    event: RecordId | None = None
    title: Text
    fiscal_year: FiscalYear | None = None
    target: Text | None = None
    responses: NonNegativeInt | None = None
    response_rate: Percent | None = None
    questions: list[QuestionIn] = []
    note: Text | None = None


class FindingIn(RecordIn):
    subject: Subject
    ward: WardName | None = None
    category: FindingCategory
    fiscal_year: FiscalYear | None = None
    period: Text | None = None
    text: Text


class OnboardingStepIn(RecordIn):
    ordinal: int | None = None  # default: position in the list, from 1
    timing: Text
    description: Text
    fiscal_year: FiscalYear | None = None
    date: JpDate | None = None
    event: RecordId | None = None


class SupportActivityIn(RecordIn):
    target: Subject
    title: Text
    period: Text | None = None
    wards_count: NonNegativeInt | None = None
    content: Text | None = None
    note: Text | None = None

    @model_validator(mode="after")
    def _period(self) -> SupportActivityIn:
        if self.period:
            parse_month_period(self.period)
        return self

    @property
    def period_range(self) -> tuple[date | None, date | None]:
        return parse_month_period(self.period) if self.period else (None, None)


# Top-level list key in a record file -> (record type name, model)
SECTIONS: dict[str, tuple[str, type[RecordIn]]] = {
    "blocks": ("block", BlockIn),
    "events": ("event", EventIn),
    "surveys": ("survey", SurveyIn),
    "findings": ("finding", FindingIn),
    "onboarding_steps": ("onboarding_step", OnboardingStepIn),
    "support_activities": ("support_activity", SupportActivityIn),
}


class FileHeader(Strict):
    """The top level of a YAML record file, with the record lists left unvalidated."""

    version: Literal[1] = 1
    document: Text
    blocks: list[Any] = []
    events: list[Any] = []
    surveys: list[Any] = []
    findings: list[Any] = []
    onboarding_steps: list[Any] = []
    support_activities: list[Any] = []
