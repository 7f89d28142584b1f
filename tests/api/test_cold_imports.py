"""What a fresh process imports before it answers (issue 16: answers in a second from a cold start).

Each check runs the real code in a new interpreter over a real ingested data dir and reads ``sys.modules``:
a module listed here was measured costing 0.1-0.5 s of a cold start and is not needed for that answer.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import run_python, run_renkei
from tests.support.server import new_deployment

RECORD_QUESTION = "新任コーディネーター向けの説明は何月何日にありましたか"
PASSAGE_QUESTION = "新任のコーディネーターは採用されたらまず何をしてもらえますか"

# Heavy modules a record question does not need: the model's runtime and tokenizer, the dense index, LangChain's
# callbacks and runnables (pulled in by its Embeddings interface), Alembic (the database is already at head).
NOT_FOR_RECORDS = ("torch", "onnxruntime", "tokenizers", "chromadb", "langchain_core.runnables", "alembic")

RECORD_ANSWER = """
import json, sys
from api.cli.main import _assistant
from assistant.schemas import ChatRequest

answer = _assistant().answer(ChatRequest(message={question!r}))
print(json.dumps({{"answer": answer.answer, "loaded": [m for m in {modules!r} if m in sys.modules]}}))
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, e5_model_dir: Path) -> dict[str, str]:
    """The environment of a sample deployment ingested with the real model (the records database at head)."""
    deployment = new_deployment(tmp_path_factory.mktemp("cold-imports"))
    environment = deployment.env(RENKEI_EMBEDDING_MODEL=str(e5_model_dir))
    done = run_renkei(environment, "ingest", "--json", timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return environment


def _run(env: dict[str, str], code: str) -> dict:
    done = run_python(["-c", code], env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_record_question_imports_no_model_runtime_vector_store_langchain_or_alembic(env: dict[str, str]) -> None:
    result = _run(env, RECORD_ANSWER.format(question=RECORD_QUESTION, modules=NOT_FOR_RECORDS))
    assert "4月24日" in result["answer"], result
    assert result["loaded"] == [], f"a cold record question imported {result['loaded']}"


def test_a_passage_question_loads_the_dense_side_but_not_langchains_runnables_or_sentencepiece(
    env: dict[str, str],
) -> None:
    """The same probe on a passage question lists the dense side (so the check above can fail), and still no
    LangChain callbacks or runnables: the embedding backends implement its interface without importing it; nor
    SentencePiece (~0.4 s to load): the question and its answer lines are segmented over the export's piece table."""
    modules = ("chromadb", "onnxruntime", "langchain_core.runnables", "sentencepiece")
    assert _run(env, RECORD_ANSWER.format(question=PASSAGE_QUESTION, modules=modules))["loaded"] == [
        "chromadb",
        "onnxruntime",
    ]


def test_the_backends_provide_langchains_embeddings_interface(e5_model_dir: Path) -> None:
    from langchain_core.embeddings import Embeddings

    from knowledge.onnx_embeddings import OnnxEmbeddings

    model = OnnxEmbeddings(e5_model_dir)
    interface = {name for name in vars(Embeddings) if not name.startswith("_")}
    assert interface == {"embed_documents", "embed_query", "aembed_documents", "aembed_query"}
    assert all(callable(getattr(model, name)) for name in interface)
    texts = ["訪問診療の連携", "ACPの研修"]
    assert asyncio.run(model.aembed_documents(texts)) == model.embed_documents(texts)
    assert asyncio.run(model.aembed_query(texts[0])) == model.embed_query(texts[0])


# ``renkei ask`` as a process: a probe object reports the interpreter's teardown, an exit handler its run.
EXIT_PROBE = """
import atexit, sys

class Probe:
    def __del__(self):
        sys.stderr.write("teardown ran\\n")

probe = Probe()  # a global of __main__: finalised only by the interpreter's teardown
atexit.register(lambda: sys.stderr.write("exit handlers ran\\n"))
sys.argv = ["renkei", "ask", *{args!r}]
from api.cli.main import app
app()
"""


def _run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_python(["-c", EXIT_PROBE.format(args=args)], env, timeout=600)


@pytest.mark.parametrize("question, expected", [(RECORD_QUESTION, "4月24日"), (PASSAGE_QUESTION, "コーディネーター")])
def test_ask_exits_without_the_interpreters_teardown_once_its_answer_is_written(
    env: dict[str, str], question: str, expected: str
) -> None:
    """Freeing every module, chromadb's and ONNX Runtime's objects took ~0.4 s after the answer was printed: the
    process now skips it, with its exit handlers run and its whole output flushed into the pipe."""
    done = _run_cli(env, "--json", question)
    assert done.returncode == 0, done.stderr[-3000:]
    assert expected in json.loads(done.stdout)["answer"]  # the JSON arrived whole
    assert "exit handlers ran" in done.stderr
    assert "teardown ran" not in done.stderr


def test_an_ask_that_fails_exits_as_before(env: dict[str, str]) -> None:
    """A rejected question keeps its exit status and message, and the probe sees the usual teardown (so the
    check above can fail)."""
    done = _run_cli(env, "")
    assert done.returncode == 2
    assert "at least 1 character" in done.stderr
    assert "exit handlers ran" in done.stderr and "teardown ran" in done.stderr
