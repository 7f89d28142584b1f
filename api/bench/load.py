"""A bounded chat load generator for a renkei server on this machine (loopback only).

``run_load`` starts ``clients`` threads that post chat questions to ``/api/chat`` one after another until
``seconds`` have passed or ``max_requests`` have been sent, whichever comes first, then stops by itself.
An optional ``background`` callable (e.g. an ingest) runs in its own thread while the load runs; its result
goes into the report. Anything that is not a 200 with an ``answer`` counts as an error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import httpx

from api.bench.harness import percentile

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_CLIENTS = 100
MAX_SECONDS = 600.0
MAX_REQUESTS = 1_000_000
DEFAULT_MAX_REQUESTS = 100_000
REQUEST_TIMEOUT_S = 60.0
BACKGROUND_TIMEOUT_S = 900.0

# Typical questions of the programme's users (none of them is tuned for; any answer or refusal is fine).
DEFAULT_QUESTIONS: tuple[str, ...] = (
    "北ブロックの研修会の講師は？",
    "ACPの取組みは？",
    "相談支援室への訪問はいつ行われましたか？",
    "多職種研修会の会場はどこですか？",
    "アンケートの回収率は？",
    "私の区の研修はいつ？",
    "連携ツールの活用について教えて",
    "今年度の局の取組みは？",
)


class LoadTargetRefused(ValueError):
    """The target is not on this machine's loopback interface."""


def check_loopback(base_url: str) -> str:
    """Return ``base_url`` without a trailing slash, or raise unless its host is 127.0.0.1, localhost or ::1."""
    parsed = urlparse(base_url)
    host = (parsed.hostname or "").lower()
    if parsed.scheme not in ("http", "https") or host not in LOOPBACK_HOSTS:
        raise LoadTargetRefused(f"load tests only run against 127.0.0.1, localhost or ::1, not {base_url!r}")
    return base_url.rstrip("/")


@dataclass
class _Tally:
    """Shared between the client threads."""

    max_requests: int
    deadline: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    issued: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)

    def take_ticket(self) -> int | None:
        """The number of the next request to send, or None when the time or request budget is spent."""
        with self.lock:
            if self.issued >= self.max_requests or time.monotonic() >= self.deadline:
                return None
            self.issued += 1
            return self.issued - 1

    def record(self, latency: float, error: str | None) -> None:
        with self.lock:
            self.latencies.append(latency)
            if error is not None:
                self.errors[error.split(":", 1)[0]] += 1
                if len(self.error_samples) < 10:
                    self.error_samples.append(error)


def _check_answer(response: httpx.Response) -> str | None:
    if response.status_code != 200:
        return f"http {response.status_code}: {response.text[:200]}"
    try:
        body = response.json()
    except ValueError:
        return "bad json: the body is not JSON"
    if not isinstance(body, dict) or not isinstance(body.get("answer"), str) or not body["answer"]:
        return "bad body: no answer"
    return None


def _client_loop(base_url: str, questions: Sequence[str], tally: _Tally, client_no: int) -> None:
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as http:
        while (ticket := tally.take_ticket()) is not None:
            question = questions[(ticket + client_no) % len(questions)]
            started = time.perf_counter()
            try:
                error = _check_answer(http.post("/api/chat", json={"message": question}))
            except httpx.HTTPError as exc:
                error = f"transport {type(exc).__name__}: {exc}"
            tally.record(time.perf_counter() - started, error)


def _run_background(task: Callable[[], Any], out: dict[str, Any]) -> None:
    started = time.perf_counter()
    try:
        out["result"] = task()
    except Exception as exc:  # noqa: BLE001 - reported, the load itself goes on
        out["error"] = f"{type(exc).__name__}: {exc}"
    out["seconds"] = round(time.perf_counter() - started, 3)


def run_load(
    base_url: str,
    *,
    clients: int = 20,
    seconds: float = 60.0,
    max_requests: int = DEFAULT_MAX_REQUESTS,
    questions: Sequence[str] | None = None,
    background: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    """Chat load on a loopback server; returns requests, errors, p50/p95/max latency (ms) and throughput."""
    base_url = check_loopback(base_url)
    if not 1 <= clients <= MAX_CLIENTS:
        raise ValueError(f"clients must be between 1 and {MAX_CLIENTS}")
    if not 0 < seconds <= MAX_SECONDS:
        raise ValueError(f"seconds must be in (0, {MAX_SECONDS:.0f}]")
    if not 1 <= max_requests <= MAX_REQUESTS:
        raise ValueError(f"max_requests must be between 1 and {MAX_REQUESTS}")
    chosen = [q for q in (questions or DEFAULT_QUESTIONS) if q.strip()]
    if not chosen:
        raise ValueError("no questions to ask")

    started = time.perf_counter()
    tally = _Tally(max_requests=max_requests, deadline=time.monotonic() + seconds)
    background_out: dict[str, Any] = {}
    threads = [
        threading.Thread(target=_client_loop, args=(base_url, chosen, tally, n), name=f"load-{n}", daemon=True)
        for n in range(clients)
    ]
    if background is not None:
        threads.append(threading.Thread(target=_run_background, args=(background, background_out), daemon=True))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + REQUEST_TIMEOUT_S + BACKGROUND_TIMEOUT_S)
    elapsed = time.perf_counter() - started
    return _report(tally, clients, elapsed, background_out if background is not None else None)


def _report(tally: _Tally, clients: int, elapsed: float, background: dict[str, Any] | None) -> dict[str, Any]:
    latencies = sorted(tally.latencies)
    report: dict[str, Any] = {
        "clients": clients,
        "seconds": round(elapsed, 3),
        "requests": len(latencies),
        "errors": sum(tally.errors.values()),
        "error_kinds": dict(tally.errors),
        "error_samples": tally.error_samples,
        "requests_per_second": round(len(latencies) / elapsed, 2) if elapsed > 0 else 0.0,
        "latency_ms": {
            "p50": round(percentile(latencies, 0.50) * 1000, 1),
            "p95": round(percentile(latencies, 0.95) * 1000, 1),
            "max": round((latencies[-1] if latencies else 0.0) * 1000, 1),
            "mean": round(sum(latencies) / len(latencies) * 1000, 1) if latencies else 0.0,
        },
    }
    if background is not None:
        report["background"] = background
    return report


# --- background ingests -----------------------------------------------------------------------------------
def ingest_via_api(base_url: str, token: str, *, full: bool = True, poll_s: float = 0.5) -> dict[str, Any]:
    """Start an ingest through ``POST /api/admin/ingest`` and wait for it; returns its final status."""
    base_url = check_loopback(base_url)
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + BACKGROUND_TIMEOUT_S
    with httpx.Client(base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT_S) as http:
        started = http.post("/api/admin/ingest", json={"full": full})
        if started.status_code != 202:
            raise RuntimeError(f"the admin API refused the ingest: {started.status_code} {started.text[:300]}")
        run_id = started.json()["run_id"]
        while time.monotonic() < deadline:
            status: dict[str, Any] = http.get(f"/api/admin/ingest/{run_id}").json()
            if status.get("status") != "running":
                return {
                    "via": "api",
                    "run_id": run_id,
                    "status": status.get("status"),
                    "summary": status.get("summary"),
                    "error": status.get("error"),
                }
            time.sleep(poll_s)
    raise TimeoutError(f"ingest {run_id} still running after {BACKGROUND_TIMEOUT_S:.0f} s")


def ingest_via_cli(env: dict[str, str] | None = None) -> dict[str, Any]:
    """``renkei ingest --full --json`` in a subprocess with this process's settings (or ``env``)."""
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "ingest", "--full", "--json"],
        env=env if env is not None else dict(os.environ),
        capture_output=True,
        text=True,
        timeout=BACKGROUND_TIMEOUT_S,
        check=False,
    )
    summary: dict[str, Any] | None = None
    if result.returncode == 0:
        summary = json.loads(result.stdout).get("summary")
    return {
        "via": "cli",
        "status": "succeeded" if result.returncode == 0 else "failed",
        "summary": summary,
        "error": result.stderr[-500:] if result.returncode else None,
    }
