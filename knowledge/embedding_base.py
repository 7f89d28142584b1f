"""What every real embedding backend shares: prompts, token windows, length-bucketed batches.

A backend (torch in ``knowledge.embeddings``, ONNX Runtime in ``knowledge.onnx_embeddings``) only says how
to tokenise a batch of texts and how to turn padded token ids into L2-normalised vectors. This module
imports neither torch nor onnxruntime, nor LangChain: the backends provide LangChain's ``Embeddings`` interface
(its four methods) without inheriting it, because importing it pulls in LangChain's callbacks and runnables,
~0.2 s of every cold passage question and of a server's model load.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

QUERY, PASSAGE = "query", "passage"
DEFAULT_WINDOW_OVERLAP = 64
FALLBACK_MAX_TOKENS = 512


class EmbeddingModelError(RuntimeError):
    """The configured embedding model cannot be found or loaded."""


@dataclass(frozen=True)
class TokenSeq:
    """One tokenised text: ids with special tokens, which of them are special, character offsets."""

    ids: list[int]
    special: list[int]
    offsets: list[tuple[int, int]]


@dataclass(frozen=True)
class Window:
    text_index: int
    ids: list[int]


class WindowedEmbeddings(ABC):
    """Prompts ``query: `` / ``passage: ``; inputs longer than the model's limit are embedded in windows.

    Long inputs are cut into overlapping token windows (each keeps ``<s>``, the prompt and ``</s>``);
    their embeddings are averaged, weighted by window length, and renormalised. Texts are batched by
    token length, so a batch pads to the length of similar texts rather than to the longest one.
    """

    batch_size: int
    window_overlap: int

    def __init__(self, *, batch_size: int, window_overlap: int, model_name: str) -> None:
        self.batch_size = max(1, int(batch_size))
        self.window_overlap = max(0, int(window_overlap))
        self._name = model_name

    # ------------------------------------------------------------------ what a backend provides

    @property
    @abstractmethod
    def dimension(self) -> int: ...

    @property
    @abstractmethod
    def max_tokens(self) -> int: ...

    @abstractmethod
    def prompt(self, mode: str) -> str:
        """The prompt text for ``query`` or ``passage``."""

    @abstractmethod
    def tokenize(self, texts: Sequence[str]) -> list[TokenSeq]:
        """Token ids of each text as given (prompt already prepended), special tokens added, never truncated."""

    @abstractmethod
    def forward(self, batch: list[list[int]]) -> np.ndarray:
        """L2-normalised float32 vectors for token-id lists of at most ``max_tokens`` each."""

    # ------------------------------------------------------------------ identity

    @property
    def model_name(self) -> str:
        return self._name

    # ------------------------------------------------------------------ LangChain interface

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = self.encode(texts, PASSAGE).tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        vector: list[float] = self.encode([text], QUERY)[0].tolist()
        return vector

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """As LangChain's default: the blocking call in a worker thread."""
        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        return await asyncio.to_thread(self.embed_query, text)

    # ------------------------------------------------------------------ encoding

    def token_count(self, text: str, mode: str = PASSAGE) -> int:
        """Tokens the model sees for ``text`` (prompt and special tokens included, before windowing)."""
        return len(self.tokenize([self.prompt(mode) + text])[0].ids)

    def token_ids(self, texts: Sequence[str], mode: str = PASSAGE) -> list[list[int]]:
        """The ids the model sees for each text (prompt and special tokens included, before windowing)."""
        prompt = self.prompt(mode)
        return [seq.ids for seq in self.tokenize([prompt + t for t in texts])]

    def encode(self, texts: Sequence[str], mode: str = PASSAGE) -> np.ndarray:
        """L2-normalised float32 embeddings, one row per text (many short texts at once are cheap)."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        prompt = self.prompt(mode)
        seqs = self.tokenize([prompt + t for t in texts])
        short = [i for i, seq in enumerate(seqs) if len(seq.ids) <= self.max_tokens]
        long = [i for i, seq in enumerate(seqs) if len(seq.ids) > self.max_tokens]
        if short:
            out[short] = self._forward_bucketed([seqs[i].ids for i in short])
        if long:
            windows = [w for n, i in enumerate(long) for w in self._windows(n, seqs[i], prompt)]
            out[long] = self._pool_windows(windows, len(long))
        return out

    def _forward_bucketed(self, id_lists: list[list[int]]) -> np.ndarray:
        """Forward in batches of similar length (shortest first); rows come back in the input order."""
        order = sorted(range(len(id_lists)), key=lambda i: len(id_lists[i]))
        out = np.empty((len(id_lists), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self.forward([id_lists[i] for i in rows])
        return out

    def _pool_windows(self, windows: list[Window], n_texts: int) -> np.ndarray:
        vectors = self._forward_bucketed([w.ids for w in windows]).astype(np.float64)
        sums = np.zeros((n_texts, self.dimension), dtype=np.float64)
        for window, vector in zip(windows, vectors, strict=True):
            sums[window.text_index] += len(window.ids) * vector
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        pooled: np.ndarray = (sums / np.maximum(norms, 1e-12)).astype(np.float32)
        return pooled

    def _windows(self, text_index: int, seq: TokenSeq, prompt: str) -> list[Window]:
        """Token windows of ``prompt + text``, each ``<s> prompt … </s>``, overlapping by ``window_overlap``."""
        ids, special, offsets = seq.ids, seq.special, seq.offsets
        n_head = _leading_ones(special)
        n_tail = _leading_ones(special[::-1])
        head, tail = ids[:n_head], ids[len(ids) - n_tail :]
        content, content_offsets = ids[n_head : len(ids) - n_tail], offsets[n_head : len(ids) - n_tail]
        prompt_end = len(prompt.rstrip())
        n_prompt = sum(1 for _, end in content_offsets if prompt_end and end <= prompt_end)
        prompt_ids, body = content[:n_prompt], content[n_prompt:]
        room = self.max_tokens - len(head) - len(tail) - len(prompt_ids)
        if room <= self.window_overlap:
            raise EmbeddingModelError(f"the model's token limit {self.max_tokens} is too small to window text")
        step = room - self.window_overlap
        windows = []
        for start in range(0, max(len(body), 1), step):
            windows.append(Window(text_index, head + prompt_ids + body[start : start + room] + tail))
            if start + room >= len(body):
                break
        return windows


def _leading_ones(mask: Sequence[int]) -> int:
    n = 0
    for bit in mask:
        if bit != 1:
            break
        n += 1
    return n


def padded(batch: list[list[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, attention_mask) as int64 arrays, right-padded to the longest list."""
    width = max(len(ids) for ids in batch)
    input_ids = np.full((len(batch), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(batch), width), dtype=np.int64)
    for row, ids in enumerate(batch):
        input_ids[row, : len(ids)] = ids
        mask[row, : len(ids)] = 1
    return input_ids, mask
