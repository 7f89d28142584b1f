"""Configuration: the one module of ``knowledge`` that any package imports for its settings.

:class:`Settings` holds four groups, each read from the environment (and a ``.env`` file) on its own:

* ``storage``: where the data lives (data dir, corpus roots, database, Chroma) and every path derived from it;
* ``retrieval``: the embedding model and how it runs;
* ``llm``: the optional OpenAI-compatible server that rephrases answers;
* ``http``: what the web interface allows (admin token, message length, rate limits, uploads).

The environment variables keep their flat names (``RENKEI_DATA_DIR``, ``RENKEI_EMBEDDING_BACKEND``,
``RENKEI_LLM_BASE_URL``, ``RENKEI_ADMIN_TOKEN``, lists as JSON such as ``RENKEI_CORPUS_DIRS='["corpus"]'``): each
group is a ``BaseSettings`` with its own prefix, and :class:`Settings` builds the groups it is not given. In code a
group is overridden by passing it, the others still coming from the environment::

    Settings(
        storage=StorageSettings(data_dir=tmp, corpus_dirs=[corpus]),
        retrieval=RetrievalSettings(embedding_model="hashing"),
    )

A value the environment gives that a group cannot take raises :class:`ConfigError`, naming the variable.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

ENV_PREFIX = "RENKEI_"
SQLITE_FILE = "renkei.sqlite3"
LOCK_FILE = "ingest.lock"
PLACEHOLDER_API_KEY = "not-needed"
JSON_HINT = f"a list is written as JSON, e.g. {ENV_PREFIX}CORPUS_DIRS='[\"./corpus\"]'"


class ConfigError(Exception):
    """A setting's value cannot be used; the message names its environment variable.

    Not a ``ValueError``: a pydantic validator that reads the settings (``ChatRequest``'s) lets it through instead
    of reporting it as an invalid field."""


class _Group(BaseSettings):
    """One group of settings, read from ``<env_prefix><FIELD>`` variables; unknown keywords are refused.

    The environment holds every group's variables, so a group ignores the ones it has no field for; a keyword
    given in code is checked against the fields instead, so that a misspelt override fails rather than vanishes.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True)
    group: ClassVar[str]

    def __init__(self, **values: Any) -> None:
        unknown = sorted(key for key in values if not key.startswith("_") and key not in type(self).model_fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no setting {', '.join(unknown)}")
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError("; ".join(_describe(type(self), error) for error in exc.errors())) from None
        except SettingsError as exc:  # a list the environment gives that is not JSON
            raise ConfigError(f"{_setting_named_in(type(self), exc)}: {exc}; {JSON_HINT}") from None

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable of ``field`` (``RENKEI_LLM_BASE_URL`` for the llm group's ``base_url``)."""
        return f"{cls.model_config.get('env_prefix', '')}{field}".upper()


def _setting(group: type[_Group], field: str) -> str:
    """``RENKEI_X (group.x)``: how a setting is named in errors."""
    return f"{group.env_name(field)} ({group.group}.{field})"


def _describe(group: type[_Group], error: Any) -> str:
    """``RENKEI_X (group.x): what is wrong (got value)`` for one pydantic error."""
    field = str(error["loc"][0]) if error.get("loc") else "?"
    return f"{_setting(group, field)}: {error['msg']} (got {error.get('input')!r})"


def _setting_named_in(group: type[_Group], exc: SettingsError) -> str:
    """The setting pydantic-settings names in ``error parsing value for field "x" from source ...``."""
    found = re.search(r'field "(\w+)"', str(exc))
    return _setting(group, found[1]) if found else f"a {ENV_PREFIX}* setting of the {group.group} group"


class StorageSettings(_Group):
    """Where the data lives; the paths inside the data dir are derived here and nowhere else."""

    group: ClassVar[str] = "storage"

    data_dir: Path = Path("./var")
    corpus_dirs: list[Path] = Field(default_factory=lambda: [Path("./corpus")])
    database_url: str | None = None  # default: SQLite file in data_dir
    chroma_url: str | None = None  # default: embedded PersistentClient in data_dir
    collection: str = "renkei_chunks"
    # Fits no group well: reference data (the city and its wards) that ``records.reference`` reads at import;
    # kept with the other paths the process reads. Default: the packaged ``records/data/municipality.yaml``.
    municipality_file: Path | None = None

    @classmethod
    def local(cls, data_dir: Path, corpus_dirs: list[Path]) -> StorageSettings:
        """Everything under ``data_dir`` (SQLite and an embedded Chroma), whatever the environment names."""
        return cls(data_dir=data_dir, corpus_dirs=corpus_dirs, database_url=None, chroma_url=None)

    @property
    def sqlite_file(self) -> Path:
        """The SQLite database used when no ``database_url`` is set."""
        return self.data_dir / SQLITE_FILE

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_file.resolve()}"

    @property
    def model_cache_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def lexical_dir(self) -> Path:
        return self.data_dir / "lexical"

    @property
    def line_vectors_file(self) -> Path:
        """The cache of answer-line embeddings (per model)."""
        return self.data_dir / "line_vectors.sqlite3"

    @property
    def ingest_lock_path(self) -> Path:
        """The file an ingest holds so that one runs at a time (see ``ingest.locking``)."""
        return self.data_dir / LOCK_FILE


class RetrievalSettings(_Group):
    """The embedding model that both ingest and search use, and how it runs."""

    group: ClassVar[str] = "retrieval"

    embedding_model: str | None = None  # a sentence-transformers model dir, or "hashing"; default: converted e5-small
    # onnx: the exported graph on ONNX Runtime, no torch (default); torch: the sentence-transformers reference;
    # onnx-int8: the optional int8-quantised export (`renkei model build --int8`), vectors differ slightly.
    embedding_backend: Literal["onnx", "torch", "onnx-int8"] = "onnx"
    embedding_batch_size: int = Field(default=16, ge=1)
    embedding_threads: int | None = Field(default=None, ge=1)  # ONNX Runtime threads; default: the usable cores


class LlmSettings(_Group):
    """The optional OpenAI-compatible server that rephrases answers and proposes record drafts."""

    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}LLM_")
    group: ClassVar[str] = "llm"

    base_url: str | None = None  # unset: no LLM is called
    model: str = "gpt-4o-mini"
    api_key: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.base_url and self.base_url.strip())

    @property
    def client_api_key(self) -> str:
        """The key the client sends: the OpenAI client wants one, and local servers usually ignore it."""
        return self.api_key or PLACEHOLDER_API_KEY


class HttpSettings(_Group):
    """What the web interface allows."""

    group: ClassVar[str] = "http"

    admin_token: str | None = None  # unset: the admin endpoints answer 403
    # The longest chat message: ``ChatRequest`` refuses a longer one, for the HTTP API and ``renkei ask`` alike. It
    # reads the process's value (``get_settings()``), whatever settings object an app was built with.
    max_message_chars: int = Field(default=2000, ge=1)
    # Requests per client per minute, 0 for no limit: chat, and 👍/👎 posts (no token needed, so limited too).
    rate_limit_per_minute: int = Field(default=120, ge=0)
    feedback_per_minute: int = Field(default=30, ge=0)
    upload_max_bytes: int = Field(default=20_000_000, ge=1)  # largest document an admin may upload from the web page


class Settings(BaseModel):
    """Every setting, by group; a group not given is read from the environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    storage: StorageSettings = Field(default_factory=StorageSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment once."""
    return Settings()
