"""``GET /api/health``: is the service up, and what does it hold."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from api.deps import StateDep
from api.schemas import Health
from records.queries import count_records

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health", response_model=Health, summary="稼働状況と件数 / status and counts")
def health(state: StateDep) -> Health:
    # Counts come from the catalog and records databases: no index is loaded (the server answers while it loads).
    with Session(state.records_engine) as session:
        records_total = count_records(session)["total"]
    counts = state.kb.counts()
    return Health(
        status="degraded" if state.warm_up_error else "ok",
        documents=counts.get("documents", 0),
        chunks=counts.get("chunks", 0),
        records=records_total,
        embedding_model=state.kb.model_name,
        embedding_model_ready=state.kb.embeddings_loaded,
        last_ingest=state.kb.catalog.state("last_ingest"),
    )
