"""The embedding model's Unigram tokenizer run by SentencePiece: the same ids and offsets, a quarter of the memory.

``tokenizers`` builds a Unigram model of the 250k-piece vocabulary as a trie of hash maps: ~276 MB RSS, and its
~0.6 s load holds the GIL, so a server's health check waits behind the background model load. SentencePiece
keeps the same vocabulary in a double-array trie (~70 MB) and loads it with the GIL released.

Only the segmentation of each pre-token changes hands. The text still goes through the model's own normalizer,
pre-tokenizer and post-processor, run by ``tokenizers`` from the model's ``tokenizer.json`` with a vocabulary-free
stand-in for the Unigram model (``tokenizer_pipeline.json``), and SentencePiece runs the same Viterbi search over
the same pieces and scores. Every piece is an ordinary piece here, specials included: ``tokenizers`` matches
``<s>`` or ``<mask>`` written in the text by their score like any other piece (with ``split_special_tokens``), so
SentencePiece must too; its required "unknown" piece is an extra, unmatchable one whose id is mapped back to
``<unk>``. The export writes these files only after checking both tokenizers agree on probe texts;
tests/knowledge/test_spm_tokenizer.py compares ids, offsets and special-token masks on every corpus and question set.

SentencePiece's load is not cheap either (~0.4 s: it sorts the pieces and builds its trie on every load), so the
export also writes the pieces as a sorted table (knowledge/unigram_pieces.py, ~30 ms to load) over which short
texts — a question, a few answer lines — are segmented in Python; SentencePiece is loaded for the first bulk batch.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from knowledge.unigram_pieces import PIECES_FILE, write_pieces_file

SPM_FILE = "tokenizer.spm"
PIPELINE_FILE = "tokenizer_pipeline.json"
# A batch of at most this many characters (a question, a few answer lines) is segmented over the piece table
# without loading SentencePiece; bulk work loads it (its C++ search is faster per text).
QUICK_CHARS = 4000
TOKENIZER_FILES = (SPM_FILE, PIPELINE_FILE, PIECES_FILE)
# An extra piece for SentencePiece's obligatory "unknown" entry; no normalised text can hold U+10FFFF + "<unk>".
_SPM_UNKNOWN_PIECE = "\U0010ffff<unk>"
# What the export checks before writing the files (besides the prompts): scripts, widths, specials, unknowns.
PROBE_TEXTS = (
    "新任のコーディネーターは採用されたらまず何をしてもらえますか",
    "令和5年4月24日（月）に開催されました。",
    "ＡＣＰ（人生会議）の取組み　ｶﾞｲﾄﾞ ㈱ ①②",
    "Home medical care, 2023-09-01: 12 wards.",
    "  a  b\tc\n",
    "</s> <s> <pad> <unk> <mask> x<s>y",
    "🈻 \x00 \u200b \ufeff é ́",
    "",
)


def can_use_spm(tokenizer_json: dict[str, Any], split_special_tokens: bool) -> bool:
    """Whether SentencePiece can stand in: a Unigram model without byte fallback, specials never split out."""
    model = tokenizer_json.get("model") or {}
    return model.get("type") == "Unigram" and not model.get("byte_fallback") and split_special_tokens


def write_spm_files(tokenizer_json: dict[str, Any], out: Path) -> None:
    """Write ``tokenizer.spm`` (the pieces and scores as a SentencePiece model), ``tokenizer_pipeline.json`` and
    ``tokenizer_pieces.npz`` (the same pieces sorted, for short texts)."""
    from sentencepiece import sentencepiece_model_pb2 as pb

    model = tokenizer_json["model"]
    proto = pb.ModelProto()
    for piece, score in model["vocab"]:
        proto.pieces.add(piece=piece, score=score, type=pb.ModelProto.SentencePiece.NORMAL)
    proto.pieces.add(piece=_SPM_UNKNOWN_PIECE, score=0.0, type=pb.ModelProto.SentencePiece.UNKNOWN)
    trainer = proto.trainer_spec
    trainer.model_type, trainer.vocab_size, trainer.byte_fallback = pb.TrainerSpec.UNIGRAM, len(proto.pieces), False
    trainer.unk_id, trainer.bos_id, trainer.eos_id, trainer.pad_id = len(proto.pieces) - 1, -1, -1, -1
    normalizer = proto.normalizer_spec  # the text arrives normalised and pre-tokenised by tokenizers
    normalizer.name, normalizer.add_dummy_prefix = "identity", False
    normalizer.remove_extra_whitespaces, normalizer.escape_whitespaces = False, False
    (out / SPM_FILE).write_bytes(proto.SerializeToString())
    # The stand-in model knows one piece: the unknown one, with its id (what SentencePiece's unknown maps back to).
    unk_piece = model["vocab"][model["unk_id"]][0]
    stand_in = {"type": "WordLevel", "vocab": {unk_piece: model["unk_id"]}, "unk_token": unk_piece}
    pipeline = tokenizer_json | {"model": stand_in, "added_tokens": []}
    (out / PIPELINE_FILE).write_text(json.dumps(pipeline, ensure_ascii=False), encoding="utf-8")
    write_pieces_file(model["vocab"], model["unk_id"], out)


def export_spm_tokenizer(model_dir: Path, out: Path) -> bool:
    """Write the SentencePiece files into ``out`` when the model's tokenizer allows it and ``tokenizers`` agrees
    with both segmenters on the probe texts (with the model's prompts); False, with nothing written, otherwise."""
    from tokenizers import Tokenizer

    config_file = model_dir / "tokenizer_config.json"
    config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
    data = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    if not can_use_spm(data, bool(config.get("split_special_tokens"))):
        return False
    write_spm_files(data, out)
    reference = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    reference.encode_special_tokens = True
    reference.no_truncation()
    reference.no_padding()
    texts = probe_texts(model_dir)
    if any(
        mismatches(reference, SpmTokenizer(out / SPM_FILE, out / PIPELINE_FILE, out / PIECES_FILE, quick), texts)
        for quick in (QUICK_CHARS, 0)
    ):  # the piece table, then SentencePiece
        for name in TOKENIZER_FILES:
            (out / name).unlink()
        return False
    return True


def probe_texts(model_dir: Path) -> list[str]:
    prompts_file = model_dir / "config_sentence_transformers.json"
    prompts = json.loads(prompts_file.read_text(encoding="utf-8")).get("prompts") if prompts_file.is_file() else None
    return [prompt + text for prompt in ["", *(prompts or {}).values()] for text in PROBE_TEXTS]


def mismatches(reference: Any, candidate: Any, texts: Sequence[str]) -> list[str]:
    """The texts whose ids, offsets or special-token masks differ between two tokenizers."""
    return [
        text
        for text, a, b in zip(
            texts, reference.encode_batch(list(texts)), candidate.encode_batch(list(texts)), strict=True
        )
        if (a.ids, a.offsets, a.special_tokens_mask) != (b.ids, b.offsets, b.special_tokens_mask)
    ]


class SpmTokenizer:
    """The subset of ``tokenizers.Tokenizer`` the embedding backends use: ``encode_batch`` and ``token_to_id``.

    With a piece table (``tokenizer_pieces.npz``, knowledge/unigram_pieces.py) a batch of up to ``quick_chars``
    characters is segmented in Python over it, and SentencePiece (~0.4 s to load) is loaded only for the first
    larger batch: a question never waits for it. Both give the same tokens; once loaded, SentencePiece does all.
    """

    def __init__(
        self, spm_file: Path, pipeline_file: Path, pieces_file: Path | None = None, quick_chars: int = QUICK_CHARS
    ) -> None:
        from tokenizers import Tokenizer

        from knowledge.unigram_pieces import UnigramPieces

        shell = Tokenizer.from_file(str(pipeline_file))
        self._normalizer, self._pre_tokenizer, self._post = shell.normalizer, shell.pre_tokenizer, shell.post_processor
        (self._unk,) = shell.get_vocab().values()
        self._spm_file, self._quick_chars = spm_file, quick_chars
        self._pieces = UnigramPieces(pieces_file) if pieces_file is not None else None
        if self._pieces is not None and self._pieces.unk_id != self._unk:
            raise ValueError(f"{pieces_file} and {pipeline_file} disagree on the unknown id")
        self._spm: Any = None
        self._spm_lock = threading.Lock()
        if self._pieces is None:
            self._load_spm()

    @property
    def spm_loaded(self) -> bool:
        return self._spm is not None

    def _load_spm(self) -> Any:
        with self._spm_lock:
            if self._spm is None:
                import sentencepiece

                spm = sentencepiece.SentencePieceProcessor(model_file=str(self._spm_file))  # the GIL is released
                self._spm_unk = spm.piece_size() - 1  # write_spm_files appends it (``unk_id()`` does not report it)
                if not spm.is_unknown(self._spm_unk):
                    raise ValueError(
                        f"{self._spm_file} was not written by write_spm_files: its last piece is not the unknown one"
                    )
                self._spm = spm
        return self._spm

    def token_to_id(self, piece: str) -> int | None:
        if self._pieces is not None:
            return self._pieces.piece_id(piece)
        found = self._spm.piece_to_id(piece)  # a piece not in the vocabulary gives the unknown piece's id
        return None if self._spm.is_unknown(found) else int(found)

    def encode_batch(self, texts: Sequence[str], add_special_tokens: bool = True) -> list[Any]:
        segment = self._segmenter(texts)
        return [self._encode(text, add_special_tokens, segment) for text in texts]

    def encode(self, text: str, add_special_tokens: bool = True) -> Any:
        return self._encode(text, add_special_tokens, self._segmenter([text]))

    def _segmenter(self, texts: Sequence[str]) -> Any:
        """The piece table for a small batch while SentencePiece is not loaded, else SentencePiece (loaded now)."""
        if self._pieces is not None and self._spm is None and sum(map(len, texts)) <= self._quick_chars:
            return self._segment_quick
        self._load_spm()
        return self._segment

    def _encode(self, text: str, add_special_tokens: bool, segment: Any) -> Any:
        """A ``tokenizers.Encoding``: offsets in characters of ``text``, special tokens added by the template."""
        from tokenizers import PreTokenizedString

        pieces = PreTokenizedString(text)
        if self._normalizer is not None:
            pieces.normalize(self._normalizer.normalize)
        if self._pre_tokenizer is not None:
            self._pre_tokenizer.pre_tokenize(pieces)
        pieces.tokenize(segment)
        encoding = pieces.to_encoding()
        return self._post.process(encoding, add_special_tokens=add_special_tokens) if self._post else encoding

    def _segment(self, split: str) -> list[Any]:
        """SentencePiece's segmentation of one pre-token, offsets in its UTF-8 bytes (what tokenizers expects)."""
        from tokenizers import Token

        found = self._spm.encode_as_offset_mapping(split)
        byte_at = _byte_offsets(split)
        return [
            Token(self._unk if token_id == self._spm_unk else token_id, piece, (byte_at[start], byte_at[end]))
            for token_id, piece, (start, end) in zip(found["ids"], found["pieces"], found["offsets"], strict=True)
        ]

    def _segment_quick(self, split: str) -> list[Any]:
        """The same segmentation from the piece table (offsets in characters there, in UTF-8 bytes here)."""
        from tokenizers import Token

        assert self._pieces is not None, "quick segmentation needs the piece table"
        byte_at = _byte_offsets(split)
        return [
            Token(token_id, split[start:end], (byte_at[start], byte_at[end]))
            for token_id, start, end in self._pieces.segment(split)
        ]


def _byte_offsets(text: str) -> list[int]:
    """The UTF-8 byte offset of each character position of ``text`` (and of its end)."""
    byte_at = [0]
    for char in text:
        byte_at.append(byte_at[-1] + len(char.encode("utf-8")))
    return byte_at


def load_spm_tokenizer(files_dir: Path) -> SpmTokenizer | None:
    """The SentencePiece tokenizer when its files are in ``files_dir`` and sentencepiece is installed, else None;
    with the piece table when the export wrote it."""
    if not ((files_dir / SPM_FILE).is_file() and (files_dir / PIPELINE_FILE).is_file()):
        return None
    from importlib.util import find_spec

    if find_spec("sentencepiece") is None:  # looked up, not imported: a question may never need it
        return None
    pieces = files_dir / PIECES_FILE
    return SpmTokenizer(files_dir / SPM_FILE, files_dir / PIPELINE_FILE, pieces if pieces.is_file() else None)
