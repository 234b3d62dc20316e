"""Token-budget bucketing over length arrays: the batches of a corpus of any size.

:func:`length_batches` gives exactly the batches of
:func:`~transformer_mt.data.batching.token_budget_batches` (same sort, same cuts, same shuffle,
the same random numbers drawn from ``rng``), but from numpy length arrays instead of a Python
tuple per sentence, so a corpus of ten million pairs is bucketed in seconds and in a few
hundred bytes per batch, not per sentence.

Shape letters: N sentences in the corpus.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import overload

import numpy as np

Lengths = np.ndarray  # (N,) integer lengths with specials, as batched


class BatchOrder(Sequence[np.ndarray]):
    """An epoch's batches: one (N,) int32 array of sentence indices in sorted order, cut at
    ``bounds``, visited in the order ``positions``. A batch is a view: the order of ten million
    sentences costs 4 bytes per sentence and 12 per batch, not a Python object per batch."""

    def __init__(self, order: np.ndarray, bounds: np.ndarray, positions: np.ndarray) -> None:
        self.order = order  # (N,) int32
        self.bounds = bounds  # (batches + 1,) int64: batch k is order[bounds[k]:bounds[k + 1]]
        self.positions = positions  # (batches,) int32: the k-th batch of the epoch

    def __len__(self) -> int:
        return len(self.positions)

    @overload
    def __getitem__(self, index: int) -> np.ndarray: ...

    @overload
    def __getitem__(self, index: slice) -> list[np.ndarray]: ...

    def __getitem__(self, index: int | slice) -> np.ndarray | list[np.ndarray]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        position = int(self.positions[index])
        return self.order[self.bounds[position] : self.bounds[position + 1]]

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[index] for index in range(len(self)))


def length_batches(
    source_lengths: Lengths,
    target_lengths: Lengths,
    max_tokens: int,
    rng: random.Random | None = None,
) -> BatchOrder:
    """Sentence indices grouped into batches of at most ``max_tokens`` padded tokens per side.

    Sentences are sorted by target length, then source length, then a random tie-break drawn
    from ``rng`` (one ``rng.random()`` per sentence, in index order); consecutive sentences
    fill a batch while ``longest * count <= max_tokens``; a sentence longer than the budget is a
    batch of its own; the batch order is then shuffled with ``rng``. Without ``rng`` the ties
    keep index order and the batches stay sorted.
    """
    count = _checked(source_lengths, target_lengths, max_tokens)
    rank = _cell_rank(source_lengths, target_lengths)  # (N,) rank of (target, source)
    index = np.int32 if count < 1 << 31 else np.int64  # int32 halves the order's memory
    if rng is None:
        order = np.argsort(rank, kind="stable").astype(index)  # (N,) ties keep index order
    else:
        jitter = np.fromiter((rng.random() for _ in range(count)), np.float64, count)  # (N,)
        by_jitter = np.argsort(jitter, kind="stable").astype(index)  # (N,)
        del jitter
        # Stable sort by length after sorting by the tie-break: = lexsort((jitter, src, tgt)).
        order = by_jitter[np.argsort(rank[by_jitter], kind="stable")]  # (N,)
        del by_jitter
    values, counts = _runs(source_lengths, target_lengths)
    bounds = np.append(np.concatenate([[0], run_cuts(values, counts, max_tokens)]), count)
    bounds = bounds if count else np.zeros(1, dtype=np.int64)
    positions = list(range(len(bounds) - 1))
    if rng is not None:
        # random.shuffle draws depend only on the length: shuffling positions is shuffling
        # the batches themselves, with the same draws.
        rng.shuffle(positions)
    return BatchOrder(order, bounds, np.array(positions, dtype=np.int32))


def count_batches(source_lengths: Lengths, target_lengths: Lengths, max_tokens: int) -> int:
    """``len(length_batches(...))`` (the same for every ``rng``: ties have equal sizes)."""
    count = _checked(source_lengths, target_lengths, max_tokens)
    values, counts = _runs(source_lengths, target_lengths)
    return len(run_cuts(values, counts, max_tokens)) + bool(count)


def sorted_sizes(source_lengths: Lengths, target_lengths: Lengths) -> np.ndarray:
    """(N,) the padded width ``max(source, target)`` of each sentence in (target, source) order."""
    values, counts = _runs(source_lengths, target_lengths)
    return np.repeat(values, counts)


def _runs(source_lengths: Lengths, target_lengths: Lengths) -> tuple[np.ndarray, np.ndarray]:
    """The sorted widths as runs: ((R,) width, (R,) sentences), one run per (target, source)
    pair of lengths present (by counting, no sort)."""
    width, key = _cell_key(source_lengths, target_lengths)  # (N,)
    present, counts = np.unique(key, return_counts=True) if _sparse(key) else _count(key)
    return np.maximum(present // width, present % width), counts


def _cell_rank(source_lengths: Lengths, target_lengths: Lengths) -> np.ndarray:
    """(N,) each sentence's rank among the (target, source) pairs present: a small integer,
    so that a stable sort by it is a radix sort."""
    _, key = _cell_key(source_lengths, target_lengths)  # (N,)
    if _sparse(key):
        rank = np.unique(key, return_inverse=True)[1]
        return rank.astype(np.uint16) if len(rank) and rank.max() < 1 << 16 else rank
    present = np.zeros(int(key.max(initial=0)) + 1, dtype=bool)  # (cells,)
    present[key] = True
    table = np.cumsum(present) - 1  # (cells,) rank of each cell present
    return table.astype(np.uint16 if table[-1] < 1 << 16 else np.int64)[key]


def _cell_key(source_lengths: Lengths, target_lengths: Lengths) -> tuple[int, np.ndarray]:
    """``target * width + source`` (N,), in int32 when it fits (it does for any lengths below
    46,000), built in place: no int64 temporaries of the corpus' size."""
    width = int(source_lengths.max(initial=0)) + 1
    largest = (int(target_lengths.max(initial=0)) + 1) * width
    key = target_lengths.astype(np.int32 if largest < 1 << 31 else np.int64)  # (N,)
    key *= width
    key += source_lengths
    return width, key


def _sparse(key: np.ndarray) -> bool:
    """Lengths too long to count in a table (4 cells per sentence, plus a million)."""
    return int(key.max(initial=0)) + 1 > 4 * len(key) + (1 << 20)


def _count(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    counts = np.bincount(key)  # (cells,) sentences per (target, source)
    present = np.flatnonzero(counts)  # (R,) in (target, source) order
    return present, counts[present]


def run_cuts(values: np.ndarray, counts: np.ndarray, max_tokens: int) -> np.ndarray:
    """Where the greedy fill cuts sentences of widths ``repeat(values, counts)``: a batch takes
    sentences while ``max(width) * count <= max_tokens`` (at least one). Computed run by run:
    (R,) Python steps, not one per sentence or per batch. Returns the inner cut positions."""
    starts: list[np.ndarray] = []
    position, current_width, current_count = 0, 0, 0
    for value, count in zip(values.tolist(), counts.tolist(), strict=True):
        if current_count:  # the open batch takes what still fits of this run
            widest = max(current_width, value)
            taken = min(max(max_tokens // widest - current_count, 0), count)
            current_width, current_count = widest, current_count + taken
            position, count = position + taken, count - taken
            if count == 0:
                continue
        per_batch = max(1, max_tokens // value)
        batches = -(-count // per_batch)
        starts.append(position + per_batch * np.arange(batches))
        current_width, current_count = value, count - per_batch * (batches - 1)
        position += count
    return np.concatenate(starts)[1:] if starts else np.zeros(0, dtype=np.int64)


def _checked(source_lengths: Lengths, target_lengths: Lengths, max_tokens: int) -> int:
    if max_tokens <= 0:
        raise ValueError(f"max_tokens must be positive, got {max_tokens}")
    if len(source_lengths) != len(target_lengths):
        raise ValueError(
            f"{len(source_lengths)} source lengths but {len(target_lengths)} target lengths"
        )
    return len(source_lengths)
