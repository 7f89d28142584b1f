"""The drafts router on a bare app: the API of record review without a knowledge base or a server process."""

from __future__ import annotations

from types import SimpleNamespace

from fastapi import FastAPI
from sqlalchemy import Engine

from api.errors import install_error_handlers
from api.routes import drafts as drafts_routes
from knowledge.config import HttpSettings, Settings


def drafts_app(engine: Engine, admin_token: str) -> FastAPI:
    """An app whose state holds only the records engine and the settings with ``admin_token``."""
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(drafts_routes.router)
    app.state.renkei = SimpleNamespace(
        settings=Settings(http=HttpSettings(admin_token=admin_token)), records_engine=engine
    )
    return app
