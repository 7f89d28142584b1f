"""Application state and the typed dependencies the routes use (``AssistantDep`` etc.).

The state is built once per process by the app's lifespan: the knowledge base, the records engine, the
assistant, the admin ingest jobs and the per-client rate limiter. An admin ingest runs in a thread with
its own KnowledgeBase instance; readers pick up its commit through ``KnowledgeBase.refresh``.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.errors import ApiError
from assistant.service import Assistant
from ingest.locking import IngestAlreadyRunning, ingest_lock
from knowledge.base import KnowledgeBase
from knowledge.config import Settings

if TYPE_CHECKING:
    from ingest.pipeline import IngestHooks

log = logging.getLogger("renkei.api")

JobStatus = Literal["running", "succeeded", "failed"]


# --- rate limiting -------------------------------------------------------------------------------------
class RateLimiter:
    """A sliding one-minute window per client key, in memory (one server process)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> float | None:
        """Record a hit; return None when allowed, else the seconds until the next hit is allowed."""
        if self.per_minute <= 0:
            return None
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] >= 60.0:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return max(0.0, 60.0 - (now - hits[0]))
            hits.append(now)
            if len(self._hits) > 10_000:  # forget idle clients
                self._hits = {k: v for k, v in self._hits.items() if v and now - v[-1] < 60.0}
            return None


# --- admin ingest jobs ---------------------------------------------------------------------------------
@dataclass
class IngestJob:
    run_id: str
    full: bool
    status: JobStatus = "running"
    stage: str | None = None
    done: int = 0
    total: int = 0
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    finished_at: str | None = None
    summary: dict[str, int] | None = None
    report: dict[str, Any] | None = None
    error: str | None = None

    # the ingest's progress protocol
    def stage_started(self, name: str, total: int) -> None:
        self.stage, self.done, self.total = name, 0, max(total, 0)

    def advance(self, amount: int = 1) -> None:
        self.done += amount


class _JobProgress:
    """Adapts an :class:`IngestJob` to the ingest progress protocol (``stage``/``advance``)."""

    def __init__(self, job: IngestJob) -> None:
        self._job = job

    def stage(self, name: str, total: int) -> None:
        self._job.stage_started(name, total)

    def advance(self, amount: int = 1) -> None:
        self._job.advance(amount)


class IngestJobs:
    """Runs at most one ingest at a time in a background thread; remembers recent runs."""

    def __init__(
        self,
        kb_factory: Callable[[], KnowledgeBase],
        on_finished: Callable[[], None],
        lock_probe: Callable[[], None] = lambda: None,
        keep: int = 20,
        hooks: IngestHooks | None = None,
    ) -> None:
        self._kb_factory = kb_factory
        self._hooks = hooks
        self._lock_probe = lock_probe
        self._on_finished = on_finished
        self._keep = keep
        self._jobs: dict[str, IngestJob] = {}
        self._lock = threading.Lock()

    def get(self, run_id: str) -> IngestJob | None:
        return self._jobs.get(run_id)

    def running(self) -> IngestJob | None:
        return next((job for job in self._jobs.values() if job.status == "running"), None)

    def ensure_idle(self) -> None:
        """ApiError 409 while an ingest runs here or in another process (uploads and deletes wait for it)."""
        if (current := self.running()) is not None:
            raise ApiError(
                409,
                "ingest_running",
                f"取り込みは実行中です（run_id={current.run_id}）。終わってからもう一度お試しください。"
                f" / An ingest is already running (run_id={current.run_id}).",
            )
        try:
            self._lock_probe()
        except IngestAlreadyRunning as exc:
            raise ApiError(409, "ingest_running", f"取り込みは別のプロセスで実行中です。 / {exc}") from None

    def start(self, *, full: bool = False) -> IngestJob:
        with self._lock:
            self.ensure_idle()
            job = IngestJob(run_id=uuid.uuid4().hex[:12], full=full)
            self._jobs[job.run_id] = job
            for old in list(self._jobs)[: max(0, len(self._jobs) - self._keep)]:
                if self._jobs[old].status != "running":
                    del self._jobs[old]
        threading.Thread(target=self._run, args=(job,), name=f"ingest-{job.run_id}", daemon=True).start()
        return job

    def _run(self, job: IngestJob) -> None:
        from ingest.pipeline import NO_HOOKS, IngestRun

        try:
            with self._kb_factory() as kb:  # its engine and Chroma client go with the run; the readers keep theirs
                report = IngestRun(kb, _JobProgress(job), self._hooks or NO_HOOKS).run(full=job.full)
            job.report, job.summary = report.to_dict(), report.summary
            job.status = "failed" if report.failed else "succeeded"
            if report.failed:
                job.error = f"{len(report.failed)} file(s) failed"
        except Exception as exc:  # reported to the admin through the job status
            log.exception("ingest %s failed", job.run_id)
            job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            job.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
            try:
                self._on_finished()
            except Exception:
                log.exception("refresh after ingest failed")


# --- application state ---------------------------------------------------------------------------------
class AppState:
    """Everything a request may need, built once per process."""

    def __init__(self, settings: Settings, ingest_hooks: IngestHooks | None = None) -> None:
        self.settings = settings
        self.kb = KnowledgeBase(settings)
        self.rate_limiter = RateLimiter(settings.http.rate_limit_per_minute)
        self.feedback_limiter = RateLimiter(settings.http.feedback_per_minute)
        self.ingest_jobs = IngestJobs(self.writer_kb, self.kb.refresh, self._probe_ingest_lock, hooks=ingest_hooks)
        self.assistant = Assistant(self.kb, self.records_engine, settings)
        self.warm_up_error: str | None = None  # why the background load of the indexes or the model failed

    @property
    def records_engine(self) -> Engine:
        """One database, one engine: records and conversations use the knowledge base's (its pool and pragmas)."""
        return self.kb.engine

    def _probe_ingest_lock(self) -> None:
        """Raise IngestAlreadyRunning when another process (e.g. ``renkei ingest``) holds the ingest lock."""
        with ingest_lock(self.kb):
            pass

    def writer_kb(self) -> KnowledgeBase:
        """A separate instance for the ingest thread (sharing the loaded model), so readers keep theirs; use it in a
        ``with`` block, which disposes of it."""
        return KnowledgeBase(self.settings, embeddings=self.kb.embeddings)

    def warm_up(self) -> None:
        """Load the indexes and then the embedding model in the background, so the server is up at once.

        Health answers from the catalog meanwhile; a question asked before the indexes are loaded waits for them
        (``KnowledgeBase.refresh`` holds its lock while loading), a passage question also for the model.
        """
        threading.Thread(target=self._load_indexes_and_model, name="warm-up", daemon=True).start()

    def _load_indexes_and_model(self) -> None:
        try:
            self.kb.refresh()
        except Exception as exc:  # every question's own refresh reports the same error to its asker
            log.exception("loading the lexical index failed")
            self.warm_up_error = f"{type(exc).__name__}: {exc}"  # health says "degraded"
            return
        if self.kb.live_chunk_ids:
            self._load_model()

    def _load_model(self) -> None:
        started = time.perf_counter()
        try:
            self.kb.embeddings.embed_query("ウォームアップ")
            self.kb.vectors  # noqa: B018 - opens Chroma now rather than on the first passage question
        except Exception as exc:  # the first passage question reports the same error to its asker
            log.exception("loading the embedding model failed")
            self.warm_up_error = f"{type(exc).__name__}: {exc}"
            return
        log.info("embedding model %s ready in %.1f s", self.kb.model_name, time.perf_counter() - started)

    def close(self) -> None:
        self.kb.dispose()  # disposes of records_engine too: it is the knowledge base's engine


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.renkei
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_settings_dep(state: StateDep) -> Settings:
    return state.settings


def get_kb(state: StateDep) -> KnowledgeBase:
    state.kb.refresh()
    return state.kb


def get_records_engine(state: StateDep) -> Engine:
    return state.records_engine


def get_records_session(state: StateDep) -> Iterator[Session]:
    with Session(state.records_engine) as session:
        yield session


def get_assistant(state: StateDep) -> Assistant:
    return state.assistant


def get_ingest_jobs(state: StateDep) -> IngestJobs:
    return state.ingest_jobs


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _check_rate(limiter: RateLimiter, request: Request) -> None:
    retry_after = limiter.check(client_key(request))
    if retry_after is not None:
        seconds = max(1, int(retry_after + 0.999))
        raise ApiError(
            429,
            "rate_limited",
            f"リクエストが多すぎます。{seconds}秒後に再試行してください。 / Too many requests; retry in {seconds} s.",
            headers={"Retry-After": str(seconds)},
        )


def rate_limited(request: Request, state: StateDep) -> None:
    _check_rate(state.rate_limiter, request)


def feedback_rate_limited(request: Request, state: StateDep) -> None:
    """Ratings need no token, so they have their own, smaller budget per client."""
    _check_rate(state.feedback_limiter, request)


def admin_problem(admin_token: str | None, authorization: str) -> ApiError | None:
    """Why a request with this ``Authorization`` header may not use the admin endpoints (None: it may)."""
    if not admin_token:
        return ApiError(
            403,
            "admin_disabled",
            "管理機能は無効です。環境変数 RENKEI_ADMIN_TOKEN にトークンを設定してサーバーを再起動すると有効になります。"
            " / Admin endpoints are disabled: set RENKEI_ADMIN_TOKEN and restart the server to enable them.",
        )
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return ApiError(
            401,
            "missing_token",
            "Authorization: Bearer <token> ヘッダーが必要です。 / An 'Authorization: Bearer <token>' header is required.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(given.strip().encode(), admin_token.encode()):
        return ApiError(
            401,
            "invalid_token",
            "トークンが正しくありません。 / The token is not valid.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return None


def require_admin(request: Request, settings: Annotated[Settings, Depends(get_settings_dep)]) -> None:
    problem = admin_problem(settings.http.admin_token, request.headers.get("authorization", ""))
    if problem is not None:
        raise problem


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
KnowledgeDep = Annotated[KnowledgeBase, Depends(get_kb)]
RecordsEngineDep = Annotated[Engine, Depends(get_records_engine)]
RecordsSessionDep = Annotated[Session, Depends(get_records_session)]
AssistantDep = Annotated[Assistant, Depends(get_assistant)]
IngestJobsDep = Annotated[IngestJobs, Depends(get_ingest_jobs)]
RateLimited = Depends(rate_limited)
FeedbackRateLimited = Depends(feedback_rate_limited)
AdminOnly = Depends(require_admin)
