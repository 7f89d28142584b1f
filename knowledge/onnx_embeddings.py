"""The default embedding backend: the exported ONNX graph on ONNX Runtime, tokenised by ``tokenizers``.

No torch and no sentence-transformers are imported: loading takes about a second instead of ten, and the
vectors match the torch backend (cosine ≥ 0.999, identical token ids; tests/knowledge/test_onnx_embeddings.py).
The model directory is a sentence-transformers directory with an ``onnx/`` export
(``knowledge.onnx_export``); its tokenizer, prompts and token limit are read from the same files
sentence-transformers reads.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

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
from knowledge.onnx_export import ONNX_FILE, OUTPUT_NAME, onnx_dir
from knowledge.spm_tokenizer import load_spm_tokenizer


def available_cores() -> int:
    """CPU cores this process may run on (the container's share, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class OnnxEmbeddings(WindowedEmbeddings):
    """A sentence-transformers model's ONNX export, run with ONNX Runtime on the CPU."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        onnx_file: str = ONNX_FILE,
        batch_size: int = 16,
        model_name: str | None = None,
        window_overlap: int = DEFAULT_WINDOW_OVERLAP,
        threads: int | None = None,
    ) -> None:
        self.path = Path(model_path)
        graph = onnx_dir(self.path) / onnx_file
        if not graph.is_file():
            raise EmbeddingModelError(
                f"{self.path} has no ONNX export ({graph} is missing); run `renkei model export {self.path}`"
                " or set RENKEI_EMBEDDING_BACKEND=torch"
            )
        super().__init__(batch_size=batch_size, window_overlap=window_overlap, model_name=model_name or self.path.name)
        tokenizer_config = _read_json(self.path / "tokenizer_config.json")
        self._prompts: dict[str, str] = _read_json(self.path / "config_sentence_transformers.json").get("prompts") or {}
        self._max_tokens = _token_limit(self.path, tokenizer_config)
        self._tokenizer = _load_tokenizer(self.path, tokenizer_config)
        self._pad_id = _pad_id(self._tokenizer, tokenizer_config)
        self.threads = threads or available_cores()
        self._session = _load_session(graph, self.threads)
        self._run_options = _run_options()
        self._input_names = [i.name for i in self._session.get_inputs()]
        output = next((o for o in self._session.get_outputs() if o.name == OUTPUT_NAME), None)
        if output is None or not isinstance(output.shape[-1], int):
            raise EmbeddingModelError(f"{graph} has no fixed-size {OUTPUT_NAME!r} output; re-export it")
        self._dimension = int(output.shape[-1])

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def prompt(self, mode: str) -> str:
        candidates = (QUERY,) if mode == QUERY else (PASSAGE, "document")
        return next((self._prompts[c] for c in candidates if self._prompts.get(c)), "")

    def tokenize(self, texts: Sequence[str]) -> list[TokenSeq]:
        return [
            TokenSeq(enc.ids, enc.special_tokens_mask, enc.offsets)
            for enc in self._tokenizer.encode_batch(list(texts), add_special_tokens=True)
        ]

    def forward(self, batch: list[list[int]]) -> np.ndarray:
        input_ids, mask = padded(batch, self._pad_id)
        feeds = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
        (vectors,) = self._session.run(
            [OUTPUT_NAME], {name: feeds[name] for name in self._input_names}, self._run_options
        )
        vectors = vectors.astype(np.float32, copy=False)
        normalised: np.ndarray = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return normalised


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EmbeddingModelError(f"cannot read {path}: {exc}") from exc
    return data if isinstance(data, dict) else {}


def _token_limit(model_dir: Path, tokenizer_config: dict[str, Any]) -> int:
    """sentence-transformers' rule: ``max_seq_length`` if set, else the tokenizer's limit (when it has one)."""
    limit = _read_json(model_dir / "sentence_bert_config.json").get("max_seq_length")
    limit = limit or tokenizer_config.get("model_max_length")
    if not isinstance(limit, int) or limit <= 0 or limit > 100_000:  # "no limit" is a huge sentinel
        return FALLBACK_MAX_TOKENS
    return limit


def _load_tokenizer(model_dir: Path, tokenizer_config: dict[str, Any]) -> Any:
    """SentencePiece over the exported pieces when the export wrote them (same ids, a quarter of the memory, and
    its load releases the GIL), else ``tokenizers`` from tokenizer.json."""
    from tokenizers import Tokenizer

    if tokenizer_config.get("split_special_tokens"):  # the setting the export checked the two tokenizers with
        try:
            spm = load_spm_tokenizer(onnx_dir(model_dir))
        except Exception as exc:  # sentencepiece and tokenizers raise their own types for unreadable files
            raise EmbeddingModelError(f"cannot load the tokenizer in {onnx_dir(model_dir)}: {exc}") from exc
        if spm is not None:
            return spm
    path = model_dir / "tokenizer.json"
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises its own Exception type
        raise EmbeddingModelError(f"cannot load the tokenizer {path}: {exc}") from exc
    tokenizer.no_truncation()  # long texts are windowed, never cut
    tokenizer.no_padding()
    # transformers' split_special_tokens: a literal "</s>" in the text stays text, as in the torch backend.
    tokenizer.encode_special_tokens = bool(tokenizer_config.get("split_special_tokens", False))
    return tokenizer


def _pad_id(tokenizer: Any, tokenizer_config: dict[str, Any]) -> int:
    pad = tokenizer_config.get("pad_token")
    pad = pad.get("content") if isinstance(pad, dict) else pad
    pad_id = tokenizer.token_to_id(pad) if isinstance(pad, str) else None
    return int(pad_id) if pad_id is not None else 0


def _run_options() -> Any:
    import onnxruntime as ort

    options = ort.RunOptions()
    # Give the memory of a batch back after each run: a batch of long windows grows ORT's arena by ~800 MB,
    # which a server would otherwise keep for good (measured 1,278 -> 722 MB RSS, same speed within noise).
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return options


def _load_session(graph: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL  # fuses attention, GELU, norms
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Idle pool threads sleep instead of spinning (as OMP_WAIT_POLICY=PASSIVE does for torch): on 2 cores shared
    # with a server and an ingest, spinning threads took the cores the next batch needed (measured 1.3-3x slower).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for bad files
        raise EmbeddingModelError(f"cannot load the ONNX model {graph}: {exc}") from exc
