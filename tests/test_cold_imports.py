"""What a fresh process imports before it answers (issue 16: answers in a second from a cold start).

Each check runs the real code in a new interpreter over a real ingested data dir and reads ``sys.modules``:
a module listed here was measured costing 0.1-0.5 s of a cold start and is not needed for that answer.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.server_fixture import REPO, Deployment, ingest, new_deployment

RECORD_QUESTION = "新任コーディネーター向けの説明は何月何日にありましたか"

# Heavy modules a record question does not need: the model's runtime and tokenizer, the dense index, LangChain's
# callbacks and runnables (pulled in by its Embeddings interface), Alembic (the database is already at head).
NOT_FOR_RECORDS = ("torch", "onnxruntime", "tokenizers", "chromadb", "langchain_core.runnables", "alembic")

RECORD_ANSWER = """
import json, sys
from api.cli import _assistant
from assistant.schemas import ChatRequest

answer = _assistant().answer(ChatRequest(message={question!r}))
print(json.dumps({{"answer": answer.answer, "loaded": [m for m in {modules!r} if m in sys.modules]}}))
"""


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    ingested = new_deployment(tmp_path_factory.mktemp("cold-imports"))
    ingest(ingested)  # the records database is migrated to head by this first run
    return ingested


def _run(deployment: Deployment, code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=deployment.env(), capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_record_question_imports_no_model_runtime_vector_store_langchain_or_alembic(deployment: Deployment) -> None:
    result = _run(deployment, RECORD_ANSWER.format(question=RECORD_QUESTION, modules=NOT_FOR_RECORDS))
    assert "4月24日" in result["answer"], result
    assert result["loaded"] == [], f"a cold record question imported {result['loaded']}"


def test_the_check_sees_modules_a_passage_question_needs(deployment: Deployment) -> None:
    """The same probe on a passage question lists the dense side: the check above can fail."""
    code = RECORD_ANSWER.format(question="新任のコーディネーターは採用されたらまず何をしてもらえますか",
                                modules=("chromadb",))
    assert _run(deployment, code)["loaded"] == ["chromadb"]

