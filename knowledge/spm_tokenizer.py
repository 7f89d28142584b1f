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
tests/test_spm_tokenizer.py compares ids, offsets and special-token masks on every corpus and question set.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SPM_FILE = "tokenizer.spm"
PIPELINE_FILE = "tokenizer_pipeline.json"
# An extra piece for SentencePiece's obligatory "unknown" entry; no normalised text can hold U+10FFFF + "<unk>".
_SPM_UNKNOWN_PIECE = "\U0010ffff<unk>"
# What the export checks before writing the files (besides the prompts): scripts, widths, specials, unknowns.
PROBE_TEXTS = (
    "新任のコーディネーターは採用されたらまず何をしてもらえますか", "令和5年4月24日（月）に開催されました。",
    "ＡＣＰ（人生会議）の取組み　ｶﾞｲﾄﾞ ㈱ ①②", "Home medical care, 2023-09-01: 12 wards.", "  a  b\tc\n",
    "</s> <s> <pad> <unk> <mask> x<s>y", "🈻 \x00 \u200b \ufeff é ́", "",
)


def can_use_spm(tokenizer_json: dict[str, Any], split_special_tokens: bool) -> bool:
    """Whether SentencePiece can stand in: a Unigram model without byte fallback, specials never split out."""
    model = tokenizer_json.get("model") or {}
    return model.get("type") == "Unigram" and not model.get("byte_fallback") and split_special_tokens


def write_spm_files(tokenizer_json: dict[str, Any], out: Path) -> None:
    """Write ``tokenizer.spm`` (the pieces and scores as a SentencePiece model) and ``tokenizer_pipeline.json``."""
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


def export_spm_tokenizer(model_dir: Path, out: Path) -> bool:
    """Write the SentencePiece files into ``out`` when the model's tokenizer allows it and both tokenizers agree
    on the probe texts (with the model's prompts); False, with nothing written, otherwise."""
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
    if mismatches(reference, SpmTokenizer(out / SPM_FILE, out / PIPELINE_FILE), probe_texts(model_dir)):
        for name in (SPM_FILE, PIPELINE_FILE):
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
        text for text, a, b in zip(texts, reference.encode_batch(list(texts)), candidate.encode_batch(list(texts)))
        if (a.ids, a.offsets, a.special_tokens_mask) != (b.ids, b.offsets, b.special_tokens_mask)
    ]


class SpmTokenizer:
    """The subset of ``tokenizers.Tokenizer`` the embedding backends use: ``encode_batch`` and ``token_to_id``."""

    def __init__(self, spm_file: Path, pipeline_file: Path) -> None:
        import sentencepiece
        from tokenizers import Tokenizer

        self._spm = sentencepiece.SentencePieceProcessor(model_file=str(spm_file))  # loads with the GIL released
        shell = Tokenizer.from_file(str(pipeline_file))
        self._normalizer, self._pre_tokenizer, self._post = shell.normalizer, shell.pre_tokenizer, shell.post_processor
        (self._unk,) = shell.get_vocab().values()
        self._spm_unk = self._spm.piece_size() - 1  # write_spm_files appends it (``unk_id()`` does not report it)
        if not self._spm.is_unknown(self._spm_unk):
            raise ValueError(f"{spm_file} was not written by write_spm_files: its last piece is not the unknown one")

    def token_to_id(self, piece: str) -> int | None:
        found = self._spm.piece_to_id(piece)  # a piece not in the vocabulary gives the unknown piece's id
        return None if self._spm.is_unknown(found) else int(found)

    def encode_batch(self, texts: Sequence[str], add_special_tokens: bool = True) -> list[Any]:
        return [self.encode(text, add_special_tokens) for text in texts]

    def encode(self, text: str, add_special_tokens: bool = True) -> Any:
        """A ``tokenizers.Encoding``: offsets in characters of ``text``, special tokens added by the template."""
        from tokenizers import PreTokenizedString

        pieces = PreTokenizedString(text)
        if self._normalizer is not None:
            pieces.normalize(self._normalizer.normalize)
        if self._pre_tokenizer is not None:
            self._pre_tokenizer.pre_tokenize(pieces)
        pieces.tokenize(self._segment)
        encoding = pieces.to_encoding()
        return self._post.process(encoding, add_special_tokens=add_special_tokens) if self._post else encoding

    def _segment(self, split: str) -> list[Any]:
        """SentencePiece's segmentation of one pre-token, offsets in its UTF-8 bytes (what tokenizers expects)."""
        from tokenizers import Token

        found = self._spm.encode_as_offset_mapping(split)
        byte_at = [0]
        for char in split:
            byte_at.append(byte_at[-1] + len(char.encode("utf-8")))
        return [
            Token(self._unk if token_id == self._spm_unk else token_id, piece, (byte_at[start], byte_at[end]))
            for token_id, piece, (start, end) in zip(found["ids"], found["pieces"], found["offsets"])
        ]


def load_spm_tokenizer(files_dir: Path) -> SpmTokenizer | None:
    """The SentencePiece tokenizer when its files are in ``files_dir`` and sentencepiece is installed, else None."""
    if not ((files_dir / SPM_FILE).is_file() and (files_dir / PIPELINE_FILE).is_file()):
        return None
    try:
        import sentencepiece  # noqa: F401
    except ImportError:
        return None
    return SpmTokenizer(files_dir / SPM_FILE, files_dir / PIPELINE_FILE)
