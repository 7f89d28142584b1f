"""The one settings class shared by every package (environment prefix ``RENKEI_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RENKEI_", env_file=".env", extra="ignore")

    data_dir: Path = Path("./var")
    corpus_dirs: list[Path] = Field(default_factory=lambda: [Path("./corpus")])
    database_url: str | None = None  # default: SQLite file in data_dir
    chroma_url: str | None = None  # default: embedded PersistentClient in data_dir
    collection: str = "renkei_chunks"
    embedding_model: str | None = None  # a sentence-transformers model dir; default: converted e5-small
    # onnx: the exported graph on ONNX Runtime, no torch (default); torch: the sentence-transformers reference;
    # onnx-int8: the optional int8-quantised export (`renkei model build --int8`), vectors differ slightly.
    embedding_backend: Literal["onnx", "torch", "onnx-int8"] = "onnx"
    embedding_batch_size: int = 16
    embedding_threads: int | None = None  # ONNX Runtime threads; default: the cores this process may use
    admin_token: str | None = None
    llm_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_api_key: str | None = None
    max_message_chars: int = 2000
    rate_limit_per_minute: int = 120
    feedback_per_minute: int = 30  # 👍/👎 posts per client per minute (no token needed, so limited)
    upload_max_bytes: int = 20_000_000  # largest document an admin may upload from the web page

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'renkei.sqlite3').resolve()}"

    @property
    def model_cache_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def lexical_dir(self) -> Path:
        return self.data_dir / "lexical"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
