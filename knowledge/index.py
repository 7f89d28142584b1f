"""What every chunk index keeps: the :class:`ChunkIndex` protocol and its metadata filters.

The dense index (:class:`knowledge.vectorstore.VectorIndex`, Chroma) and the lexical index
(:class:`knowledge.lexical.LexicalIndex`, BM25) both keep it, so code that writes, counts, filters or deletes
chunks does so the same way on either; only the query a search takes differs (a vector, a text). The model is
Haystack 2.x's ``DocumentStore`` protocol (``count_documents``, ``filter_documents``, ``write_documents``,
``delete_documents``).

Filters are generic: ``{key: value}`` means the chunk's metadata ``key`` equals ``value``, ``{key: [a, b]}``
means it equals one of them (an empty list matches nothing), and every clause must hold. The indexes know no
key by name; what a key means (a ward is stored as a ``ward:<name>`` flag) is the caller's, see
:meth:`knowledge.base.KnowledgeBase.index_filters`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol, TypeVar, runtime_checkable

from knowledge.types import Chunk

MetadataValue = str | int | float | bool
FilterValue = (
    MetadataValue | list[MetadataValue] | tuple[MetadataValue, ...] | set[MetadataValue] | frozenset[MetadataValue]
)
Filters = Mapping[str, FilterValue]

QueryT_contra = TypeVar("QueryT_contra", contravariant=True)


def filter_values(value: FilterValue) -> list[MetadataValue]:
    """The values a filter clause accepts, any one of which will do: those of a list, tuple or set, else the one."""
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    return [value]


@runtime_checkable
class ChunkIndex(Protocol[QueryT_contra]):
    """An index of chunks by id, each with flat metadata (str, int, float or bool values)."""

    def count(self) -> int:
        """How many chunks the index holds."""
        ...

    def ids(self) -> set[str]:
        """The id of every chunk held."""
        ...

    def filter(self, where: Filters | None = None) -> set[str]:
        """The ids of the chunks whose metadata satisfy ``where`` (every chunk without filters)."""
        ...

    def write(self, chunks: Sequence[Chunk]) -> int:
        """Add or replace chunks (their ``metadata`` plus ``document_id`` is what filters see); how many were written."""
        ...

    def delete(self, chunk_ids: Iterable[str]) -> int:
        """Remove chunks by id (unknown ids are ignored); how many were removed."""
        ...

    def search(self, query: QueryT_contra, /, k: int, where: Filters | None = None) -> list[tuple[str, float]]:
        """The best ``k`` chunks for ``query`` among those ``where`` allows, as (chunk id, score), best first."""
        ...
