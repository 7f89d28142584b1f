"""Settings by group (``knowledge.config``): the flat ``RENKEI_*`` names land in their groups, a value that cannot
be used names its variable, and the message limit comes from the one setting."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.errors import describe_validation_error
from api.routes import labels as labels_routes
from assistant.schemas import ChatRequest
from knowledge.config import (
    ConfigError,
    HttpSettings,
    LlmSettings,
    RetrievalSettings,
    Settings,
    StorageSettings,
    get_settings,
)
from tests.support.cli import run_renkei

# (variable, value as the environment gives it, group, field, value the group holds)
ENVIRONMENT: list[tuple[str, str, str, str, Any]] = [
    ("RENKEI_DATA_DIR", "/srv/renkei", "storage", "data_dir", Path("/srv/renkei")),
    ("RENKEI_CORPUS_DIRS", '["corpus/a", "corpus/b"]', "storage", "corpus_dirs", [Path("corpus/a"), Path("corpus/b")]),
    ("RENKEI_DATABASE_URL", "postgresql+psycopg://u@h/db", "storage", "database_url", "postgresql+psycopg://u@h/db"),
    ("RENKEI_CHROMA_URL", "http://chroma:8000", "storage", "chroma_url", "http://chroma:8000"),
    ("RENKEI_COLLECTION", "other_chunks", "storage", "collection", "other_chunks"),
    ("RENKEI_MUNICIPALITY_FILE", "/etc/city.yaml", "storage", "municipality_file", Path("/etc/city.yaml")),
    ("RENKEI_EMBEDDING_MODEL", "hashing", "retrieval", "embedding_model", "hashing"),
    ("RENKEI_EMBEDDING_BACKEND", "onnx-int8", "retrieval", "embedding_backend", "onnx-int8"),
    ("RENKEI_EMBEDDING_BATCH_SIZE", "4", "retrieval", "embedding_batch_size", 4),
    ("RENKEI_EMBEDDING_THREADS", "2", "retrieval", "embedding_threads", 2),
    ("RENKEI_LLM_BASE_URL", "http://llm:8080/v1", "llm", "base_url", "http://llm:8080/v1"),
    ("RENKEI_LLM_MODEL", "local-model", "llm", "model", "local-model"),
    ("RENKEI_LLM_API_KEY", "sk-test", "llm", "api_key", "sk-test"),
    ("RENKEI_ADMIN_TOKEN", "s3cret", "http", "admin_token", "s3cret"),
    ("RENKEI_MAX_MESSAGE_CHARS", "500", "http", "max_message_chars", 500),
    ("RENKEI_RATE_LIMIT_PER_MINUTE", "0", "http", "rate_limit_per_minute", 0),
    ("RENKEI_FEEDBACK_PER_MINUTE", "7", "http", "feedback_per_minute", 7),
    ("RENKEI_UPLOAD_MAX_BYTES", "1000", "http", "upload_max_bytes", 1000),
]


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No ``RENKEI_*`` variable and no ``.env`` (the working directory is empty); the cached settings forgotten."""
    for name in [name for name in os.environ if name.startswith("RENKEI_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("name", "raw", "group", "field", "expected"), ENVIRONMENT, ids=[row[0] for row in ENVIRONMENT]
)
def test_each_variable_lands_in_its_group(
    environment: pytest.MonkeyPatch, name: str, raw: str, group: str, field: str, expected: Any
) -> None:
    default = getattr(getattr(Settings(), group), field)
    environment.setenv(name, raw)
    assert getattr(getattr(Settings(), group), field) == expected != default
    assert type(getattr(Settings(), group)).env_name(field) == name


def test_every_field_has_a_row_above() -> None:
    """A setting added to a group is added to the table (so its variable is tested too)."""
    groups = {"storage": StorageSettings, "retrieval": RetrievalSettings, "llm": LlmSettings, "http": HttpSettings}
    fields = {(group, field) for group, cls in groups.items() for field in cls.model_fields}
    assert fields == {(group, field) for _, _, group, field, _ in ENVIRONMENT}
    assert set(Settings.model_fields) == set(groups)


def test_a_dotenv_file_is_read_and_the_environment_wins(environment: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("RENKEI_LLM_MODEL=from-dotenv\nRENKEI_ADMIN_TOKEN=from-dotenv\n", encoding="utf-8")
    environment.setenv("RENKEI_ADMIN_TOKEN", "from-environment")
    settings = get_settings()
    assert settings.llm.model == "from-dotenv"
    assert settings.http.admin_token == "from-environment"
    assert get_settings() is settings  # read once


def test_a_group_given_in_code_replaces_only_that_group(environment: pytest.MonkeyPatch, tmp_path: Path) -> None:
    environment.setenv("RENKEI_EMBEDDING_MODEL", "hashing")
    environment.setenv("RENKEI_COLLECTION", "from_environment")
    settings = Settings(storage=StorageSettings(data_dir=tmp_path / "data"))
    assert settings.storage.data_dir == tmp_path / "data"
    assert settings.storage.collection == "from_environment"  # the group's other fields still come from there
    assert settings.retrieval.embedding_model == "hashing"
    local = StorageSettings.local(tmp_path / "x", [tmp_path / "corpus"])
    assert (local.database_url, local.chroma_url, local.collection) == (None, None, "from_environment")


def test_derived_paths_are_inside_the_data_dir(environment: pytest.MonkeyPatch, tmp_path: Path) -> None:
    storage = StorageSettings(data_dir=tmp_path)
    assert storage.resolved_database_url == f"sqlite:///{(tmp_path / 'renkei.sqlite3').resolve()}"
    paths = (storage.chroma_dir, storage.lexical_dir, storage.model_cache_dir, storage.ingest_lock_path)
    assert [path.parent for path in paths] == [tmp_path] * len(paths)
    assert StorageSettings(data_dir=tmp_path, database_url="sqlite:///elsewhere").resolved_database_url == (
        "sqlite:///elsewhere"
    )


@pytest.mark.parametrize(
    ("name", "raw", "needle"),
    [
        ("RENKEI_EMBEDDING_BACKEND", "cuda", "'onnx', 'torch' or 'onnx-int8'"),
        ("RENKEI_RATE_LIMIT_PER_MINUTE", "many", "valid integer"),
        ("RENKEI_MAX_MESSAGE_CHARS", "0", "greater than or equal to 1"),
        ("RENKEI_CORPUS_DIRS", "corpus", "JSON"),
    ],
)
def test_a_value_that_cannot_be_used_names_its_variable(
    environment: pytest.MonkeyPatch, name: str, raw: str, needle: str
) -> None:
    environment.setenv(name, raw)
    with pytest.raises(ConfigError, match=needle) as error:
        get_settings()
    assert str(error.value).startswith(f"{name} (")


def test_unknown_settings_in_code_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="data_dir"):
        Settings(data_dir=tmp_path)  # type: ignore[call-arg]  # the flat form of before: now inside storage
    with pytest.raises(TypeError, match="data_dirr"):
        StorageSettings(data_dirr=tmp_path)


def test_the_cli_prints_a_bad_setting_on_one_line(environment: pytest.MonkeyPatch) -> None:
    env = dict(os.environ, RENKEI_EMBEDDING_BACKEND="cuda", COLUMNS="200")
    done = run_renkei(env, "ask", "研修はいつ？")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: RENKEI_EMBEDDING_BACKEND (retrieval.embedding_backend): Input should be 'onnx', 'torch' or "
        "'onnx-int8' (got 'cuda')"
    ]


# ---------------------------------------------------------------- the message limit


def test_the_message_limit_is_the_setting(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("RENKEI_MAX_MESSAGE_CHARS", "10")
    assert ChatRequest(message="研" * 10).message == "研" * 10
    with pytest.raises(ValidationError) as error:
        ChatRequest(message="研" * 11)
    [detail] = error.value.errors()
    assert (detail["type"], detail["ctx"]) == ("string_too_long", {"max_length": 10})
    code, message = describe_validation_error(dict(detail))
    assert code == "message_too_long" and "10文字以内" in message and "(got 11)" in message

    app = FastAPI()
    app.include_router(labels_routes.router)
    with TestClient(app) as client:
        assert client.get("/api/limits").json() == {"max_message_chars": 10}
