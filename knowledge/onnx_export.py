"""Export a sentence-transformers model directory to ONNX, so serving needs no torch.

``renkei model build`` exports the default model next to its conversion; ``renkei model export DIR`` does
the same for any other sentence-transformers directory. The graph takes ``input_ids`` and
``attention_mask`` (plus ``token_type_ids`` when the tokenizer uses them) and returns the model's own
``sentence_embedding`` (its pooling and any later modules included), so the runtime side only tokenises,
pads and normalises. The export runs torch's TorchScript exporter once, offline; the file is written into
a temporary directory and renamed into place, and the same model gives the same bytes.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from filelock import FileLock

from knowledge.atomic_dir import make_readable, replace_dir
from knowledge.embedding_base import EmbeddingModelError
from knowledge.spm_tokenizer import PIPELINE_FILE, SPM_FILE, TOKENIZER_FILES, export_spm_tokenizer
from knowledge.unigram_pieces import PIECES_FILE

ONNX_SUBDIR = "onnx"
ONNX_FILE = "model.onnx"
# Weights live beside the graph: ONNX Runtime then maps them from the file instead of parsing them into the heap
# (measured: session 0.15 s and +100 MB RSS, against 1.1 s and +540 MB with the weights inside the graph).
ONNX_DATA_FILE = "model.onnx_data"
INT8_FILE = "model_int8.onnx"
EXPORT_INFO = "export_info.json"
ONNX_EXPORT_FILES = (ONNX_FILE, ONNX_DATA_FILE, EXPORT_INFO)
OUTPUT_NAME = "sentence_embedding"
OPSET = 17
EXPORTER_VERSION = 1


class OnnxExportError(EmbeddingModelError):
    """The model directory cannot be exported (not a sentence-transformers model, or the export failed)."""


def onnx_dir(model_dir: Path) -> Path:
    return Path(model_dir) / ONNX_SUBDIR


def has_onnx_export(model_dir: Path) -> bool:
    return all((onnx_dir(model_dir) / name).is_file() for name in ONNX_EXPORT_FILES)


def export_onnx(model_dir: Path, *, int8: bool = False, force: bool = False) -> Path:
    """Export ``model_dir`` into ``model_dir/onnx`` (kept when complete unless ``force``); returns that dir.

    ``int8`` adds ``model_int8.onnx``, ONNX Runtime's dynamic int8 quantisation of the same graph (an
    option: it changes the vectors; see docs/benchmarks.md for its measured cosine and retrieval).
    """
    model_dir = Path(model_dir)
    target = onnx_dir(model_dir)
    with FileLock(str(model_dir / f".{ONNX_SUBDIR}.lock")):
        if force or not has_onnx_export(model_dir):
            tmp = Path(tempfile.mkdtemp(prefix=f".{ONNX_SUBDIR}.", suffix=".tmp", dir=model_dir))
            try:
                write_onnx_export(model_dir, tmp, int8=int8)
                make_readable(tmp)
                replace_dir(tmp, target)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        if not force and has_onnx_export(model_dir) and not has_spm_files(target):  # exported before they existed
            _add_spm_tokenizer(model_dir, target)
        if int8 and not (target / INT8_FILE).is_file():  # only the option is missing: the default stays as is
            partial = target / f".{INT8_FILE}.tmp"
            try:
                _quantize_int8(target / ONNX_FILE, partial)
                partial.chmod(0o644)
                partial.replace(target / INT8_FILE)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
    return target


def write_onnx_export(model_dir: Path, out: Path, *, int8: bool = False) -> None:
    """Write ``model.onnx`` (and ``model_int8.onnx`` when asked) plus ``export_info.json`` into ``out``."""
    import torch  # build time only: serving reads the exported file with onnxruntime

    from knowledge.embeddings import load_sentence_transformer

    model = load_sentence_transformer(Path(model_dir))
    input_names = ["input_ids", "attention_mask"]
    if "token_type_ids" in getattr(model.tokenizer, "model_input_names", ()):
        input_names.append("token_type_ids")
    wrapper = _sentence_embedding_module(model, input_names).eval()
    # Two rows, the second padded: the traced pooling must honour the attention mask.
    ids = torch.tensor([[0, 10, 11, 12, 2], [0, 13, 2, 1, 1]], dtype=torch.long)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.long)
    args = (ids, mask, torch.zeros_like(ids))[: len(input_names)]
    axes = {name: {0: "batch", 1: "tokens"} for name in input_names} | {OUTPUT_NAME: {0: "batch"}}
    path = out / ONNX_FILE
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer notes about shape checks that hold for every input
            torch.onnx.export(
                wrapper,
                args,
                str(path),
                dynamo=False,
                input_names=input_names,
                output_names=[OUTPUT_NAME],
                dynamic_axes=axes,
                opset_version=OPSET,
                do_constant_folding=True,
            )
        _move_weights_to_data_file(path, ONNX_DATA_FILE)
        if int8:
            _quantize_int8(path, out / INT8_FILE)
    except Exception as exc:  # the exporters raise many types; one clear error names the model
        raise OnnxExportError(f"cannot export {model_dir} to ONNX: {type(exc).__name__}: {exc}") from exc
    info: dict[str, Any] = {
        "exporter_version": EXPORTER_VERSION,
        "exporter": f"torch.onnx TorchScript exporter, torch {torch.__version__.split('+')[0]}",
        "opset": OPSET,
        "inputs": input_names,
        "output": OUTPUT_NAME,
        "weights": ONNX_DATA_FILE,
    }
    (out / EXPORT_INFO).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    export_spm_tokenizer(Path(model_dir), out)


def has_spm_files(target: Path) -> bool:
    return all((target / name).is_file() for name in TOKENIZER_FILES)


def _add_spm_tokenizer(model_dir: Path, target: Path) -> None:
    """Add the SentencePiece files to a complete export (or the piece table to one made before it existed); the
    pipeline file lands first and the SentencePiece model last, so a reader never sees the model without the
    others."""
    staging = Path(tempfile.mkdtemp(prefix=".spm.", suffix=".tmp", dir=target))
    try:
        if export_spm_tokenizer(model_dir, staging):
            for name in (PIPELINE_FILE, PIECES_FILE, SPM_FILE):
                (staging / name).chmod(0o644)
                (staging / name).replace(target / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_weights_to_data_file(graph: Path, data_name: str) -> None:
    import onnx

    model = onnx.load(str(graph))
    onnx.save_model(
        model,
        str(graph),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=data_name,
        size_threshold=1024,
    )


def _quantize_int8(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
    except Exception as exc:  # onnxruntime's quantiser raises many types
        raise OnnxExportError(f"cannot quantise {source} to int8: {type(exc).__name__}: {exc}") from exc


def _sentence_embedding_module(model: Any, input_names: list[str]) -> Any:
    import torch

    class SentenceEmbedding(torch.nn.Module):
        """The sentence-transformers pipeline as a module over positional token tensors."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            output: torch.Tensor = self.model(dict(zip(input_names, tensors, strict=False)))[OUTPUT_NAME]
            return output

    return SentenceEmbedding()
