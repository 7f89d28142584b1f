"""Turning a message into a grounded answer: understand → (records | passages) → compose → cite."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

from sqlalchemy.engine import Engine

from assistant.answer_model import AnswerModel, answer_model
from assistant.citations import Citations
from assistant.errors import UnknownWardError
from assistant.evidence import Unit
from assistant.extractive import Evidence, document_texts, gather_evidence, rank_candidates, select, subject_documents
from assistant.grounding import is_supported, unknown_proper_nouns
from assistant.llm import DECLINED, cited_numbers, evidence_for, llm_answer
from assistant.llm import enabled as llm_enabled
from assistant.memory import ConversationMemory
from assistant.record_answers import RecordAnswer, answer_from_records, record_names
from assistant.schemas import ChatAnswer, ChatRequest, StreamEvent
from assistant.understanding import Understanding, is_follow_up, understand
from knowledge.base import KnowledgeBase
from knowledge.config import Settings
from knowledge.retriever import hybrid_search, search_within
from records.reference import canonical_ward_name, close_ward_names

RETRIEVAL_K = 8
# Retrieved before keeping the passages about the places the question names (a question about 吹田市 wants
# 吹田市's report, even where another town's report shares more of its words).
SUBJECT_POOL_K = 24
# When that few documents are about the question's places, the passages are searched for inside them alone;
# more documents naming a place means the name does not pick out a subject.
MAX_SUBJECT_DOCUMENTS = 3
GREETING_ANSWER = (
    "こんにちは。在宅医療・介護連携推進事業の資料についてお答えします。"
    "例えば「次のブロック別多職種研修会はいつ？」「新任コーディネーターへの支援の流れは？」のように聞いてください。"
)
DELTA_PATTERN = re.compile(r"(?<=[。\n])")


class Assistant:
    def __init__(
        self,
        kb: KnowledgeBase,
        records_engine: Engine,
        settings: Settings | None = None,
        model: AnswerModel | None = None,
    ) -> None:
        self.kb = kb
        self.records_engine = records_engine
        self.settings = settings or kb.settings
        self.memory = ConversationMemory(records_engine)
        self._model = model

    @property
    def model(self) -> AnswerModel:
        """The fitted answer model (``assistant/data/answer_model.json`` unless one was passed in)."""
        if self._model is None:
            self._model = answer_model()
        return self._model

    # --- public --------------------------------------------------------------------------------
    def answer(self, request: ChatRequest) -> ChatAnswer:
        ward = self._resolve_ward(request.ward)
        as_of = request.as_of or date.today()
        conversation_id = request.conversation_id or self.memory.new_id()
        previous = self.memory.last_turn(conversation_id) if request.conversation_id else None
        u = self.understand(request.message, ward=ward, as_of=as_of)
        resolved = request.message
        if previous is not None and is_follow_up(request.message, u):
            resolved = f"{previous.resolved} {request.message}"
            u = _inherit(self.understand(resolved, ward=ward, as_of=as_of), u)
        answer = self._compose(u, resolved, ward, as_of)
        answer.conversation_id = conversation_id
        self.memory.append(conversation_id, request.message, resolved, answer.intent, u.entities(), answer.answer)
        return answer

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        answer = self.answer(request)
        for piece in DELTA_PATTERN.split(answer.answer):
            if piece:
                yield StreamEvent(event="delta", data={"text": piece})
        yield StreamEvent(event="citations", data=[c.model_dump() for c in answer.citations])
        yield StreamEvent(event="records", data=answer.records)
        yield StreamEvent(
            event="done",
            data={"conversation_id": answer.conversation_id, "intent": answer.intent, "grounded": answer.grounded},
        )

    def understand(self, message: str, *, ward: str | None = None, as_of: date | None = None) -> Understanding:
        names = record_names(self.records_engine)
        return understand(
            message, ward=ward, as_of=as_of, venues=names.venues, record_names=names.names, areas=names.areas
        )

    def passage_evidence(self, question: str, u: Understanding) -> Evidence:
        """Every line of the passages retrieved for ``question``, with its features (not yet scored)."""
        results = hybrid_search(self.kb, question, k=SUBJECT_POOL_K if u.names else RETRIEVAL_K)
        documents = document_texts(self.kb, results)
        subject = subject_documents(results, documents, u.names)
        if subject and len(subject) <= MAX_SUBJECT_DOCUMENTS:
            chosen = search_within(self.kb, question, subject, k=RETRIEVAL_K)
        else:  # the passages about the places the question names, or all when no document names them
            chosen = [r for r in results if r.chunk.document_id in subject or not subject][:RETRIEVAL_K]
        return gather_evidence(self.kb, question, chosen, u.names, documents)

    # --- steps ---------------------------------------------------------------------------------
    @staticmethod
    def _resolve_ward(name: str | None) -> str | None:
        if name is None or not name.strip():
            return None
        ward = canonical_ward_name(name)
        if ward is None:
            raise UnknownWardError(name, close_ward_names(name))
        return ward

    def _compose(self, u: Understanding, question: str, ward: str | None, as_of: date) -> ChatAnswer:
        if u.intent == "greeting":
            return ChatAnswer(conversation_id="", answer=GREETING_ANSWER, intent="greeting", grounded=False)
        missing = unknown_proper_nouns(self.kb, u.names)
        if missing:  # 札幌市, 青葉台総合病院 …: no document is about them
            return _refusal_answer(missing, [])
        citations = Citations(self.kb)
        if u.intent == "record":
            found = answer_from_records(self.records_engine, u, ward=ward, as_of=as_of, citations=citations)
            if found is not None:
                return self._with_llm(question, _record_chat_answer(found, citations))
        return self._with_llm(question, self._passage_answer(u, question, citations))

    def _with_llm(self, question: str, answer: ChatAnswer) -> ChatAnswer:
        """With an LLM backend configured, let it phrase the answer from the same evidence; its reply is
        checked (citations exist, facts appear in the cited evidence) and the extractive answer stays
        when the check fails. When the model says the passages do not answer, the question is refused."""
        if not llm_enabled(self.settings) or not answer.grounded or not answer.citations:
            return answer
        text = llm_answer(question, evidence_for(answer.answer, answer.citations), self.settings)
        if text is DECLINED:
            # a passage answer the model read as not answering (a near miss) is refused; a record answer stays,
            # its facts come from the reviewed records, not from reading the passage
            if answer.intent == "record":
                return answer
            return _refusal_answer((), list(dict.fromkeys(c.title for c in answer.citations)))
        if text is None:
            return answer
        cited = cited_numbers(text)
        answer.answer = text
        answer.citations = [c for c in answer.citations if c.n in cited]
        return answer

    def _passage_answer(self, u: Understanding, question: str, citations: Citations) -> ChatAnswer:
        evidence = self.passage_evidence(question, u)
        selection = select(rank_candidates(evidence.candidates, self.model), self.model.composition_for(question))
        if selection is None or not is_supported(selection, evidence, evidence.answer_type, self.model):
            return _refusal_answer((), evidence.titles)
        lines: list[str] = []
        by_chunk: dict[str, list[Unit]] = {}
        for unit in selection.units:
            by_chunk.setdefault(unit.chunk.chunk_id, []).append(unit)
        scores = {c.unit.chunk.chunk_id: c.probability for c in reversed(selection.candidates)}
        for units in by_chunk.values():
            chunk = units[0].chunk
            n = citations.cite(chunk, units[0].start, units[-1].end, round(scores[chunk.chunk_id], 4))
            for i, unit in enumerate(units):
                lines.append(unit.text + (f" [{n}]" if i == len(units) - 1 else ""))
        intent = "peer_practice" if u.intent == "peer_practice" else "how_to"
        return ChatAnswer(
            conversation_id="", answer="\n".join(lines), intent=intent, grounded=True, citations=citations.items
        )


def _refusal_answer(missing_terms: tuple[str, ...], titles: list[str]) -> ChatAnswer:
    return ChatAnswer(conversation_id="", answer=refusal(missing_terms, titles), intent="out_of_scope", grounded=False)


# How many of the searched documents a refusal names, so the reader knows where it looked.
REFUSAL_TITLES = 2


def refusal(missing_terms: tuple[str, ...], titles: list[str]) -> str:
    subject = f"「{'・'.join(missing_terms[:3])}」について" if missing_terms else "ご質問の内容について"
    searched = "".join(f"『{title}』" for title in titles[:REFUSAL_TITLES])
    hint = f"（探した資料：{searched}など）" if searched else ""
    return f"{subject}、取り込まれた資料には記載が見つかりません。{hint}"


def _inherit(resolved: Understanding, current: Understanding) -> Understanding:
    """A follow-up keeps what it says itself and takes the rest from the previous turn."""
    if current.attributes:
        resolved.attributes = current.attributes
    return resolved


def _record_chat_answer(found: RecordAnswer, citations: Citations) -> ChatAnswer:
    return ChatAnswer(
        # 「…の予定は資料に見つかりません」 cites nothing: it is not grounded in a passage
        conversation_id="",
        answer=found.text,
        intent="record",
        grounded=bool(citations.items),
        citations=citations.items,
        records=found.records,
    )
