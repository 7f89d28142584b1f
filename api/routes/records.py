"""Read endpoints over the structured records (events, wards, blocks, surveys), via ``records.queries``."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import RecordsSessionDep
from api.errors import ApiError
from api.schemas import ERROR_RESPONSES, RecordList
from records import queries
from records.reference import CITY_NAME

router = APIRouter(prefix="/api/records", tags=["records"], responses=ERROR_RESPONSES)


def _items(records: list[Any]) -> RecordList:
    items = [queries.record_to_dict(record) for record in records]
    return RecordList(count=len(items), items=items)


@router.get("/events", response_model=RecordList, summary="研修・説明会などの記録 / events")
def events(
    session: RecordsSessionDep,
    kind: Annotated[
        str | None,
        Query(
            max_length=50,
            description="block_training など、または「ブロック別多職種研修会」",
            examples=["block_training"],
        ),
    ] = None,
    block: Annotated[str | None, Query(max_length=50, examples=["北ブロック"])] = None,
    ward: Annotated[
        str | None, Query(max_length=32, description="その区・その区のブロック・市全体の行事", examples=["鶴見区"])
    ] = None,
    date_from: Annotated[date | None, Query(alias="from", description="YYYY-MM-DD")] = None,
    date_to: Annotated[date | None, Query(alias="to", description="YYYY-MM-DD")] = None,
    fiscal_year: Annotated[int | None, Query(ge=1900, le=2200, examples=[2023])] = None,
    area: Annotated[
        str | None,
        Query(
            max_length=100,
            description="文書が対象とする市町村・区（亘理町） / the event's municipality or ward",
            examples=["亘理町"],
        ),
    ] = None,
    upcoming: Annotated[bool, Query(description="as_of 以降の行事だけ / only events on or after as_of")] = False,
    as_of: Annotated[date | None, Query(description="基準日（既定は今日） / reference date, default today")] = None,
) -> RecordList:
    if upcoming:
        reference = as_of or date.today()
        date_from = max(date_from, reference) if date_from else reference
    found = queries.list_events(
        session,
        kind=kind,
        block=block,
        ward=ward,
        date_from=date_from,
        date_to=date_to,
        fiscal_year=fiscal_year,
        area=area,
    )
    return _items(found)


@router.get("/wards", response_model=RecordList, summary=f"{CITY_NAME}の区とブロック / the wards and their blocks")
def wards(session: RecordsSessionDep) -> RecordList:
    return _items(queries.list_wards(session))


@router.get("/blocks", response_model=RecordList, summary="ブロックと所属区 / blocks and their wards")
def blocks(session: RecordsSessionDep) -> RecordList:
    return _items(queries.list_blocks(session))


@router.get("/surveys", response_model=RecordList, summary="アンケート一覧 / surveys")
def surveys(
    session: RecordsSessionDep, fiscal_year: Annotated[int | None, Query(ge=1900, le=2200)] = None
) -> RecordList:
    return _items(queries.list_surveys(session, fiscal_year=fiscal_year))


@router.get(
    "/surveys/{survey_id}", response_model=dict[str, Any], summary="アンケート結果 / one survey with its results"
)
def survey(survey_id: str, session: RecordsSessionDep) -> dict[str, Any]:
    try:
        return queries.record_to_dict(queries.get_survey(session, survey_id))
    except queries.RecordLookupError:
        raise ApiError(
            404, "survey_not_found", f"アンケート {survey_id!r} は見つかりません。 / No survey {survey_id!r}."
        ) from None
