"""``renkei bench backends``: the embedding backends before/after in one run (numbers for a report, never tests).

For each backend (torch = the reference and the old default, onnx = the default, onnx-int8 when exported):
cold ``renkei ask`` on a record and on a passage question (fresh interpreter, wall time and peak RSS),
``renkei serve`` until healthy and until its model is loaded, the embedding numbers of
:mod:`api.bench.embed`, ingest chunks/s against the raw backend on the same chunks, retrieval R@5/MRR on
every question set of the eval suite, and (``--large``) a real server's RSS over 100k chunks.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from api.bench.harness import confined_settings, percentile, renkei_env, sample_lines, set_assistants, timed
from api.bench.ingest import run_ingest_benchmark
from api.bench.paths import REPO_ROOT, SAMPLE_DIR, SUITE_FILE
from api.bench.question_sets import dev_questions
from knowledge.config import RetrievalSettings, Settings

RECORD_QUESTION = "新任コーディネーター向けの説明は何月何日にありましたか"
PASSAGE_QUESTION = "新任のコーディネーターは採用されたらまず何をしてもらえますか"
COLD_RUNS = 3
TARGETS = {
    "ask_record_s": 2.0,
    "ask_passage_s": 3.0,
    "serve_healthy_s": 2.0,
    "query_ms_p50": 15.0,
    "ingest_speedup": 1.5,
    "server_rss_mb_100k": 1000.0,
}


def run_backends_benchmark(docs: int = 30, *, large: bool = False, backends: list[str] | None = None) -> dict[str, Any]:
    from api.bench.embed import available_backends, embed_on_sample
    from knowledge.embeddings import resolve_model_dir

    model_dir = resolve_model_dir(Settings())
    chosen = backends or available_backends(model_dir)
    report: dict[str, Any] = {"model_dir": str(model_dir), "backends": chosen}
    report["embed"] = embed_on_sample(model_dir, chosen)
    with tempfile.TemporaryDirectory(prefix="renkei-bench-backends-") as tmp:
        report["cold"] = {b: _cold(_sample_data_dir(Path(tmp) / b, model_dir, b), model_dir, b) for b in chosen}
        report["retrieval"] = {b: _retrieval(Path(tmp) / f"suite-{b}", model_dir, b) for b in chosen}
        if large:
            report["server_100k"] = _server_at_size(Path(tmp) / "large", model_dir, chosen, 100_000)
    report["ingest"] = {b: run_ingest_benchmark(docs, str(model_dir), b) for b in chosen}
    report["summary"] = _summary(report)
    return report


# --- pieces ------------------------------------------------------------------------------------------
def _env(data: Path, model_dir: Path, backend: str) -> dict[str, str]:
    """A fresh process over ``data`` (the sample's) with none of this process's ``RENKEI_*`` settings."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("RENKEI_")}
    quiet = {"RENKEI_RATE_LIMIT_PER_MINUTE": "100000", "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    return inherited | renkei_env(data, [SAMPLE_DIR], str(model_dir), backend) | quiet


def _sample_data_dir(root: Path, model_dir: Path, backend: str) -> Path:
    """The sample ingested with ``backend`` (int8 vectors differ, so its index is its own)."""
    data = root / "data"
    subprocess.run(
        [sys.executable, "-m", "api.cli", "ingest", "--json"],
        cwd=REPO_ROOT,
        env=_env(data, model_dir, backend),
        capture_output=True,
        check=True,
    )
    return data


def _run_measured(args: list[str], env: dict[str, str], code: Path = REPO_ROOT) -> tuple[float, float]:
    """(wall seconds, peak RSS MB sampled every 10 ms) of one fresh process running the checkout ``code``."""
    import psutil

    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(args, cwd=code, env=_code_env(env, code), stdout=subprocess.DEVNULL, stderr=errors)
        watched, peak = psutil.Process(process.pid), 0
        while process.poll() is None:  # ru_maxrss would count the bench's own pages inherited at fork
            try:
                peak = max(peak, watched.memory_info().rss)
            except psutil.NoSuchProcess:
                break
            time.sleep(0.01)
        wall = time.perf_counter() - started
        if process.wait() != 0:
            errors.seek(0)
            tail = errors.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{' '.join(args[2:])} exited with {process.returncode}: {tail}")
    return wall, peak / 1e6


def _asks(env: dict[str, str], code: Path = REPO_ROOT) -> dict[str, float]:
    """One cold ``renkei ask`` of the checkout ``code`` per question kind: its wall seconds and peak RSS."""
    row: dict[str, float] = {}
    for kind, question in (("record", RECORD_QUESTION), ("passage", PASSAGE_QUESTION)):
        row[f"ask_{kind}_s"], row[f"ask_{kind}_rss_mb"] = _run_measured(
            [sys.executable, "-m", "api.cli", "ask", question], env, code
        )
    return row


def _cold(data: Path, model_dir: Path, backend: str) -> dict[str, Any]:
    """:data:`COLD_RUNS` rounds of cold asks (median seconds, highest RSS), then one server start."""
    env = _env(data, model_dir, backend)
    runs = [_asks(env) for _ in range(COLD_RUNS)]
    result: dict[str, Any] = {
        key: round(statistics.median(run[key] for run in runs), 2)
        if key.endswith("_s")
        else round(max(run[key] for run in runs))
        for key in runs[0]
    }
    return result | _serve_start(env)


def _serve_module(code: Path) -> str:
    """The module that starts ``renkei serve`` alone in the checkout ``code``: ``api.cli.serve``, or, in a checkout
    from before the command line became a package (``--before`` an older commit), ``api.cli_serve``."""
    return "api.cli.serve" if (code / "api" / "cli" / "serve.py").exists() else "api.cli_serve"


def _serve_start(env: dict[str, str], questions: tuple[str, ...] = (), code: Path = REPO_ROOT) -> dict[str, Any]:
    """Start ``renkei serve`` (of the checkout ``code``): seconds until /api/health is 200 and until the model is
    loaded; answer ``questions`` and report the server's RSS after them. The server is stopped by its PID; its log
    is kept in the data dir."""
    port = _free_port()
    log = (Path(env["RENKEI_DATA_DIR"]) / f"serve-{port}.log").open("wb")
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", _serve_module(code), "--host", "127.0.0.1", "--port", str(port)],
        cwd=code,
        env=_code_env(env, code),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    result: dict[str, Any] = {}
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            health = _poll(client, process, lambda h: True)
            result["serve_healthy_s"] = round(time.perf_counter() - started, 2)
            if health.get("chunks"):
                _poll(client, process, lambda h: bool(h.get("embedding_model_ready")))
                result["serve_model_ready_s"] = round(time.perf_counter() - started, 2)
            answer_ms = []
            for question in questions:
                response, seconds = timed(partial(client.post, "/api/chat", json={"message": question}))
                if response.status_code != 200:
                    raise RuntimeError(
                        f"chat {question!r}: {response.status_code} {response.text[:300]}; see {log.name}"
                    )
                answer_ms.append(seconds * 1000)
            if answer_ms:
                answer_ms.sort()
                result["chat_ms_p50"] = round(percentile(answer_ms, 0.5), 1)
                result["chat_ms_max"] = round(answer_ms[-1], 1)
            import psutil

            result["server_rss_mb"] = round(psutil.Process(process.pid).memory_info().rss / 1e6)
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()
    return result


def _code_env(env: dict[str, str], code: Path) -> dict[str, str]:
    """``env`` whose Python imports the packages of the checkout ``code`` first (whichever one is installed)."""
    return env | {"PYTHONPATH": os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH")]))}


def run_cold_comparison(
    before: Path | None, runs: int = COLD_RUNS, size: int | None = None, backend: str = "onnx"
) -> dict[str, Any]:
    """Cold ``renkei ask`` (record and passage question) and ``renkei serve`` (then the dev questions over HTTP) of
    this checkout and, when given, of another checkout of the code (``before``, e.g. ``git worktree add /tmp/before
    main``) over one data dir: the sample, grown with synthetic chunks to ``size`` when given. The checkouts take
    turns run by run, so both see the same machine load; medians, peak RSS, before/after."""
    from knowledge.embeddings import resolve_model_dir

    model_dir = resolve_model_dir(Settings())
    checkouts = {"after": REPO_ROOT} | ({"before": before.resolve()} if before else {})
    questions = tuple(q.question for q in dev_questions())
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in checkouts}
    with tempfile.TemporaryDirectory(prefix="renkei-bench-cold-") as tmp:
        data = _sample_data_dir(Path(tmp), model_dir, backend)
        chunks = _grow(data, model_dir, backend, size) if size else None
        env = _env(data, model_dir, backend)
        load = [round(value, 2) for value in os.getloadavg()]
        for _ in range(runs):
            for name, code in checkouts.items():
                samples[name].append(_cold_once(env, code, questions))
    report: dict[str, Any] = {
        "backend": backend,
        "runs": runs,
        "chunks": chunks,
        "load_average_before": load,
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
    }
    report |= {name: _medians(rows) for name, rows in samples.items()}
    if before:
        after, before_ = report["after"], report["before"]
        report["before_over_after"] = {key: round(before_[key] / after[key], 2) for key in after if after[key]}
    return report


def _cold_once(env: dict[str, str], code: Path, questions: tuple[str, ...]) -> dict[str, Any]:
    return _asks(env, code) | _serve_start(env, questions, code)


def _grow(data: Path, model_dir: Path, backend: str, size: int) -> int:
    """Synthetic chunks (random vectors, real lexical entries) added to the ingested sample up to ``size``."""
    from api.bench.retrieval import grow_to
    from knowledge.base import KnowledgeBase

    base = Settings(retrieval=RetrievalSettings(embedding_model=str(model_dir), embedding_backend=backend))
    grown = grow_to(KnowledgeBase(confined_settings(base, data, [SAMPLE_DIR])), size, sample_lines(), seed=size)
    return int(grown["total_chunks"])


def _medians(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Median of each measure (times in s, RSS in MB, chat in ms) over the runs of one checkout."""
    return {key: round(statistics.median(row[key] for row in rows), 2) for key in rows[0]}


def _poll(client: httpx.Client, process: subprocess.Popen[bytes], done: Any, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"renkei serve exited with {process.returncode}")
        try:
            response = client.get("/api/health", timeout=5)
            if response.status_code == 200 and done(response.json()):
                return dict(response.json())
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    raise RuntimeError("renkei serve did not get there in time")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _retrieval(work_dir: Path, model_dir: Path, backend: str) -> dict[str, Any]:
    """Retrieval R@5 and MRR (dense and hybrid) on every set of the eval suite, each over its own corpus."""
    from api.bench.evaluation import evaluate_retrieval
    from api.bench.question_sets import load_questions, load_suite

    settings = Settings(retrieval=RetrievalSettings(embedding_model=str(model_dir), embedding_backend=backend))
    result: dict[str, Any] = {}
    for item, assistant in set_assistants(load_suite(SUITE_FILE), work_dir, settings):
        report = evaluate_retrieval(assistant.kb, load_questions(item.questions))
        result[item.name] = {
            mode: {"recall@5": report[mode]["recall@5"], "mrr": report[mode]["mrr"]} for mode in ("dense", "hybrid")
        }
    return result


def _server_at_size(root: Path, model_dir: Path, backends: list[str], size: int) -> dict[str, Any]:
    """A data dir of the sample plus synthetic chunks up to ``size``; a real server per backend answers the
    dev questions over HTTP; its RSS afterwards."""
    from api.bench.retrieval import grow_to
    from ingest.pipeline import IngestRun
    from knowledge.base import KnowledgeBase

    base = Settings(retrieval=RetrievalSettings(embedding_model=str(model_dir)))
    settings = confined_settings(base, root / "data", [SAMPLE_DIR])
    kb = KnowledgeBase(settings)
    IngestRun(kb).run([SAMPLE_DIR])
    grown = grow_to(kb, size, sample_lines(), seed=size)
    questions = tuple(q.question for q in dev_questions())
    result: dict[str, Any] = {"chunks": grown["total_chunks"]}
    for backend in backends:
        result[backend] = _serve_start(_env(settings.storage.data_dir, model_dir, backend), questions)
    return result


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets next to the default backend's numbers and the ratios to torch (the old default)."""
    cold, embed, ingest = report["cold"].get("onnx", {}), report["embed"]["backends"], report["ingest"]
    speedup = None
    if "onnx" in ingest and "torch" in ingest:
        speedup = round(ingest["onnx"]["chunks_per_second"] / ingest["torch"]["chunks_per_second"], 2)
    values = {
        "ask_record_s": cold.get("ask_record_s"),
        "ask_passage_s": cold.get("ask_passage_s"),
        "serve_healthy_s": cold.get("serve_healthy_s"),
        "query_ms_p50": embed.get("onnx", {}).get("query_ms_p50"),
        "ingest_speedup": speedup,
        "server_rss_mb_100k": report.get("server_100k", {}).get("onnx", {}).get("server_rss_mb"),
    }
    met = {
        key: (None if value is None else (value >= TARGETS[key] if key == "ingest_speedup" else value <= TARGETS[key]))
        for key, value in values.items()
    }
    retrieval = report["retrieval"]
    same_retrieval = None
    if "onnx" in retrieval and "torch" in retrieval:
        same_retrieval = retrieval["onnx"] == retrieval["torch"]
    return {"values": values, "targets": TARGETS, "met": met, "retrieval_identical_onnx_vs_torch": same_retrieval}
