"""The Unigram segmentation of ``tokenizers`` in Python, over a sorted piece table that loads in ~30 ms.

SentencePiece needs ~0.4 s to load the 250k-piece vocabulary (it sorts the pieces and builds a double-array trie
each time), which a cold ``renkei ask`` paid to tokenise one question. A question needs a few hundred look-ups,
so this module does them in Python over the pieces sorted once at export (``tokenizer_pieces.npz``: the sorted
pieces as one NUL-separated UTF-8 string, their ids and their scores): loading is one ``split`` of that string.
Bulk work (ingest) still goes to SentencePiece, whose C++ search is faster per text (knowledge/spm_tokenizer.py).

The search is ``tokenizers``' ``Unigram::encode_optimized`` step by step: for each start, the pieces beginning
there in order of length (a trie's common-prefix search), a candidate replacing a path only if strictly better,
an unknown character scored ``min score - 10`` when no one-character piece covers it, consecutive unknowns fused
on the way back, and scores added in double precision as ``tokenizers`` adds them. tests/knowledge/test_spm_tokenizer.py
compares ids, offsets and special-token masks with ``tokenizers`` on every corpus and question set.
"""

from __future__ import annotations

from bisect import bisect_left
from pathlib import Path
from typing import Any

import numpy as np

PIECES_FILE = "tokenizer_pieces.npz"
UNK_PENALTY = 10.0  # tokenizers' K_UNK_PENALTY (SentencePiece's kUnkPenalty)


def write_pieces_file(vocab: list[list[Any]], unk_id: int, out: Path) -> None:
    """``tokenizer_pieces.npz`` from a Unigram model's ``vocab`` (``[piece, score]`` by id)."""
    pieces = [piece for piece, _ in vocab]
    if any("\0" in piece for piece in pieces) or len(set(pieces)) != len(pieces):
        raise ValueError("the vocabulary has a piece holding NUL or a repeated piece")
    order = sorted(range(len(pieces)), key=pieces.__getitem__)
    with (out / PIECES_FILE).open("wb") as file:
        np.savez(
            file,
            pieces=np.frombuffer("\0".join(pieces[i] for i in order).encode("utf-8"), dtype=np.uint8),
            ids=np.array(order, dtype=np.int32),
            scores=np.array([float(vocab[i][1]) for i in order], dtype=np.float64),
            unk_id=np.array(unk_id, dtype=np.int32),
        )


class UnigramPieces:
    """``segment(text)``: the (id, start, end) of each token of one pre-token, offsets in characters."""

    def __init__(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as data:
            self._pieces: list[str] = data["pieces"].tobytes().decode("utf-8").split("\0")
            self._ids: list[int] = data["ids"].tolist()
            scores = data["scores"]
            self._scores: list[float] = scores.tolist()
            self.unk_id = int(data["unk_id"])
        if not len(self._pieces) == len(self._ids) == len(self._scores):
            raise ValueError(f"{path} is inconsistent: {len(self._pieces)} pieces, {len(self._ids)} ids")
        self._unk_score = float(scores.min()) - UNK_PENALTY
        self._count = len(self._pieces)

    def _find(self, piece: str) -> int:
        """Index of ``piece`` in the sorted table, or -1; below -1 (``-2 - i``) when no piece even starts so."""
        at = bisect_left(self._pieces, piece)
        if at < self._count:
            found = self._pieces[at]
            if found == piece:
                return at
            if found.startswith(piece):
                return -1
        return -2 - at

    def piece_id(self, piece: str) -> int | None:
        at = self._find(piece)
        return self._ids[at] if at >= 0 else None

    def segment(self, text: str) -> list[tuple[int, int, int]]:
        size = len(text)
        if size == 0:
            return []
        scores, ids, unk_id = self._scores, self._ids, self.unk_id
        best = [0.0] * (size + 1)
        starts = [-1] * (size + 1)  # -1: no path ends here yet
        chosen = [0] * (size + 1)
        for start in range(size):
            till_here = best[start]
            single = False
            for end in range(start + 1, size + 1):
                at = self._find(text[start:end])
                if at < -1:  # no longer piece begins with this text either
                    break
                if at < 0:
                    continue
                candidate = scores[at] + till_here
                if starts[end] < 0 or candidate > best[end]:
                    best[end], starts[end], chosen[end] = candidate, start, ids[at]
                if end == start + 1:
                    single = True
            if not single:
                candidate = self._unk_score + till_here
                if starts[start + 1] < 0 or candidate > best[start + 1]:
                    best[start + 1], starts[start + 1], chosen[start + 1] = candidate, start, unk_id
        tokens: list[tuple[int, int, int]] = []
        unknown_end = -1  # the end of a run of unknowns being fused
        end = size
        while end > 0:
            start = starts[end]
            if chosen[end] == unk_id:
                unknown_end = end if unknown_end < 0 else unknown_end
            else:
                if unknown_end >= 0:
                    tokens.append(self._fused(text, end, unknown_end))
                    unknown_end = -1
                tokens.append((chosen[end], start, end))
            end = start
        if unknown_end >= 0:
            tokens.append(self._fused(text, 0, unknown_end))
        tokens.reverse()
        return tokens

    def _fused(self, text: str, start: int, end: int) -> tuple[int, int, int]:
        """A run of unknowns as one token: its text's id when it is a piece (``<unk>`` written in the text), else
        the unknown id — what ``tokenizers`` looks up for the fused string."""
        found = self.piece_id(text[start:end])
        return (self.unk_id if found is None else found, start, end)
