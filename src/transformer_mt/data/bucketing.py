"""Token-budget bucketing over length arrays: the batches of a corpus of any size.

:func:`length_batches` cuts the batches :func:`~transformer_mt.data.batching.token_budget_batches`
would cut (same sort by length, same greedy fill), but from numpy length arrays, a million
sentences at a time: an epoch of ten million pairs costs its (N,) int32 order and temporaries of
a million, never a Python object or a float64 per sentence. The shuffle is numpy's, seeded by
one draw from the caller's ``random.Random``: the ties (sentences of equal lengths) are shuffled
in place within their length cell and the batches are visited in a shuffled order, so the
batches differ from ``token_budget_batches``' (the same pairs, the same cuts, another order).

Shape letters: N sentences in the corpus, R (target, source) length cells present, C a chunk.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import overload

import numpy as np

Lengths = np.ndarray  # (N,) integer lengths with specials, as batched

CHUNK = 1 << 20  # sentences per step: bounds the temporaries at a few MB for any corpus
_MOST_COUNTED_CELLS = 1 << 22  # more (target, source) cells than this are found by np.unique


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

    Sentences are sorted by target length, then source length; consecutive sentences fill a
    batch while ``longest * count <= max_tokens``; a sentence longer than the budget is a batch
    of its own. With ``rng``, one ``rng.getrandbits(64)`` seeds a numpy generator that shuffles
    the sentences within each (target, source) length cell, then the batch order: the same
    ``rng`` state gives the same batches, whatever the lengths' dtype. Without ``rng`` the ties
    keep index order and the batches stay sorted.
    """
    count = _checked(source_lengths, target_lengths, max_tokens)
    cells = _cells(source_lengths, target_lengths)
    order = _sorted_order(source_lengths, target_lengths, cells)  # (N,)
    shuffle = np.random.default_rng(rng.getrandbits(64)) if rng is not None else None
    if shuffle is not None:
        _shuffle_within_cells(order, cells.counts, shuffle)
    bounds = np.concatenate([[0], run_cuts(cells.widths(), cells.counts, max_tokens), [count]])
    bounds = bounds.astype(np.int64) if count else np.zeros(1, dtype=np.int64)
    positions = np.arange(len(bounds) - 1, dtype=np.int32)  # (batches,)
    if shuffle is not None:
        shuffle.shuffle(positions)
    return BatchOrder(order, bounds, positions)


def count_batches(source_lengths: Lengths, target_lengths: Lengths, max_tokens: int) -> int:
    """``len(length_batches(...))`` (the same for every ``rng``: ties have equal sizes)."""
    count = _checked(source_lengths, target_lengths, max_tokens)
    cells = _cells(source_lengths, target_lengths)
    return len(run_cuts(cells.widths(), cells.counts, max_tokens)) + bool(count)


def sorted_sizes(source_lengths: Lengths, target_lengths: Lengths) -> np.ndarray:
    """(N,) the padded width ``max(source, target)`` of each sentence in (target, source) order."""
    cells = _cells(source_lengths, target_lengths)
    return np.repeat(cells.widths(), cells.counts)


class _Cells:
    """The (target, source) length pairs present, in sorted order, with their sentence counts.

    A cell's key is ``target * width + source`` (int64, computed a chunk at a time)."""

    def __init__(self, width: int, keys: np.ndarray, counts: np.ndarray) -> None:
        self.width = width
        self.keys = keys  # (R,) int64, ascending
        self.counts = counts  # (R,) int64 sentences per cell

    def widths(self) -> np.ndarray:
        """(R,) each cell's padded width ``max(source, target)``."""
        return np.maximum(self.keys // self.width, self.keys % self.width)

    def key(self, source_lengths: Lengths, target_lengths: Lengths) -> np.ndarray:
        """(C,) int64 keys of a chunk of sentences."""
        key = target_lengths.astype(np.int64)
        key *= self.width
        key += source_lengths
        return key


def _cells(source_lengths: Lengths, target_lengths: Lengths) -> _Cells:
    """The cells present, counted a chunk at a time (a table when there are few possible cells,
    np.unique otherwise)."""
    width = int(source_lengths.max(initial=0)) + 1
    possible = (int(target_lengths.max(initial=0)) + 1) * width
    empty = _Cells(width, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    chunks = (
        empty.key(source_lengths[start : start + CHUNK], target_lengths[start : start + CHUNK])
        for start in range(0, len(source_lengths), CHUNK)
    )
    if possible <= _MOST_COUNTED_CELLS:
        table = np.zeros(possible, dtype=np.int64)  # (cells,) sentences per possible cell
        for key in chunks:
            table += np.bincount(key, minlength=possible)
        keys = np.flatnonzero(table)  # (R,)
        return _Cells(width, keys, table[keys])
    seen = [np.unique(key, return_counts=True) for key in chunks]
    if not seen:
        return empty
    keys, inverse = np.unique(np.concatenate([k for k, _ in seen]), return_inverse=True)
    counts = np.bincount(inverse, weights=np.concatenate([c for _, c in seen]))
    return _Cells(width, keys, counts.astype(np.int64))


def _sorted_order(source_lengths: Lengths, target_lengths: Lengths, cells: _Cells) -> np.ndarray:
    """(N,) sentence indices sorted by cell, ties in index order: a counting sort, scattered a
    chunk at a time into an int32 array (int64 only past two billion sentences)."""
    count = len(source_lengths)
    order = np.empty(count, dtype=np.int32 if count < 1 << 31 else np.int64)  # (N,)
    filled = np.cumsum(cells.counts) - cells.counts  # (R,) next free slot of each cell
    cell_dtype = np.uint16 if len(cells.keys) <= 1 << 16 else np.int64  # uint16: radix sort
    for start in range(0, count, CHUNK):
        stop = min(start + CHUNK, count)
        key = cells.key(source_lengths[start:stop], target_lengths[start:stop])  # (C,)
        cell = np.searchsorted(cells.keys, key).astype(cell_dtype)  # (C,) each one's cell
        by_cell = np.argsort(cell, kind="stable")  # (C,) radix-stable: ties in index order
        cell = cell[by_cell]  # (C,)
        in_chunk = np.bincount(cell, minlength=len(cells.keys))  # (R,)
        rank = np.arange(stop - start) - (np.cumsum(in_chunk) - in_chunk)[cell]  # (C,)
        order[filled[cell] + rank] = by_cell + start
        filled += in_chunk
    return order


def _shuffle_within_cells(
    order: np.ndarray, counts: np.ndarray, shuffle: np.random.Generator
) -> None:
    """Shuffle each cell's run of ``order`` in place (one call per cell, R in all)."""
    start = 0
    for size in counts.tolist():
        if size > 1:
            shuffle.shuffle(order[start : start + size])
        start += size


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
