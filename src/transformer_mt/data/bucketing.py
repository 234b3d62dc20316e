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

import numpy as np

Lengths = np.ndarray  # (N,) integer lengths with specials, as batched


def length_batches(
    source_lengths: Lengths,
    target_lengths: Lengths,
    max_tokens: int,
    rng: random.Random | None = None,
) -> list[np.ndarray]:
    """Sentence indices grouped into batches of at most ``max_tokens`` padded tokens per side.

    Sentences are sorted by target length, then source length, then a random tie-break drawn
    from ``rng`` (one ``rng.random()`` per sentence, in index order); consecutive sentences
    fill a batch while ``longest * count <= max_tokens``; a sentence longer than the budget is a
    batch of its own; the batch order is then shuffled with ``rng``. Without ``rng`` the ties
    keep index order and the batches stay sorted.

    Returns:
        One int64 index array per batch (views of one (N,) array).
    """
    if max_tokens <= 0:
        raise ValueError(f"max_tokens must be positive, got {max_tokens}")
    count = len(source_lengths)
    if count != len(target_lengths):
        raise ValueError(f"{count} source lengths but {len(target_lengths)} target lengths")
    if count == 0:
        return []
    if rng is None:
        order = np.lexsort((source_lengths, target_lengths))  # (N,) stable: ties by index
    else:
        jitter = np.fromiter((rng.random() for _ in range(count)), np.float64, count)  # (N,)
        order = np.lexsort((jitter, source_lengths, target_lengths))  # (N,)
        del jitter
    sizes = np.maximum(source_lengths, target_lengths)[order]  # (N,) padded width per sentence
    batches = np.split(order, greedy_cuts(sizes, max_tokens))
    if rng is not None:
        # random.shuffle draws depend only on the length: shuffling positions is shuffling
        # the batches themselves, with the same draws.
        positions = list(range(len(batches)))
        rng.shuffle(positions)
        batches = [batches[position] for position in positions]
    return batches


def greedy_cuts(sizes: np.ndarray, max_tokens: int) -> list[int]:
    """Where to cut ``sizes`` (in sorted order) into batches: a batch takes sentences while
    ``max(size) * count <= max_tokens`` (at least one). Returns the inner cut positions."""
    cuts: list[int] = []
    start, count = 0, len(sizes)
    while start < count:
        first = int(sizes[start])
        # A batch holds at most max_tokens // first sentences, as its width is at least first.
        window = sizes[start : start + max(1, max_tokens // max(first, 1)) + 1]
        cost = np.maximum.accumulate(window) * np.arange(1, len(window) + 1)  # (W,) non-decreasing
        taken = max(1, int(np.searchsorted(cost, max_tokens, side="right")))
        start += taken
        if start < count:
            cuts.append(start)
    return cuts
