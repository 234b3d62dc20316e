"""Bucketing over length arrays: the cuts of the list-based reference, a numpy shuffle."""

from __future__ import annotations

import random

import numpy as np
import pytest

from transformer_mt.data import bucketing
from transformer_mt.data.batching import token_budget_batches
from transformer_mt.data.bucketing import count_batches, length_batches, run_cuts, sorted_sizes


def arrays(lengths: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.array([s for s, _ in lengths], dtype=np.uint16),
        np.array([t for _, t in lengths], dtype=np.uint16),
    )


def random_corpus(seed: int) -> tuple[list[tuple[int, int]], int]:
    draw = random.Random(seed)
    lengths = [(draw.randint(1, 40), draw.randint(1, 50)) for _ in range(draw.randint(1, 800))]
    return lengths, draw.choice([1, 7, 64, 300])


def as_lists(batches: bucketing.BatchOrder) -> list[list[int]]:
    return [batch.tolist() for batch in batches]


@pytest.mark.parametrize("seed", range(12))
def test_unshuffled_equal_to_token_budget_batches(seed: int) -> None:
    lengths, max_tokens = random_corpus(seed)
    expected = token_budget_batches(lengths, max_tokens)
    assert as_lists(length_batches(*arrays(lengths), max_tokens)) == expected
    assert count_batches(*arrays(lengths), max_tokens) == len(expected)


@pytest.mark.parametrize("seed", range(12))
def test_shuffled_batches_are_the_sorted_cuts_with_ties_and_batches_shuffled(seed: int) -> None:
    lengths, max_tokens = random_corpus(seed)
    sorted_batches = token_budget_batches(lengths, max_tokens)
    batches = as_lists(length_batches(*arrays(lengths), max_tokens, random.Random(seed)))

    # Every sentence once; each batch holds the lengths of one of the sorted batches, so it
    # keeps the budget (a batch over it is a single long sentence).
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert sorted(sorted(lengths[i] for i in batch) for batch in batches) == sorted(
        sorted(lengths[i] for i in batch) for batch in sorted_batches
    )
    for batch in batches:
        width = max(max(lengths[i]) for i in batch)
        assert width * len(batch) <= max_tokens or len(batch) == 1


def test_ties_and_batch_order_are_shuffled_deterministically() -> None:
    lengths = [(3, 4)] * 200 + [(5, 6)] * 200  # two cells; budget 60 = ten per batch
    sources, targets = arrays(lengths)
    first = as_lists(length_batches(sources, targets, 60, random.Random(7)))
    assert first == as_lists(length_batches(sources, targets, 60, random.Random(7)))
    assert first != as_lists(length_batches(sources, targets, 60, random.Random(8)))
    assert first != as_lists(length_batches(sources, targets, 60))
    # Ties shuffled: the first cell's batches mix its 200 indices, not ten consecutive each.
    assert any(max(batch) - min(batch) > 9 for batch in first)
    # Batches shuffled: the two cells' batches interleave in the epoch.
    cell_of_batch = [batch[0] >= 200 for batch in first]
    assert cell_of_batch != sorted(cell_of_batch)


def test_same_batches_whatever_the_lengths_dtype_and_one_draw_from_the_rng() -> None:
    lengths, max_tokens = random_corpus(3)
    sources, targets = arrays(lengths)
    rng, reference = random.Random(5), random.Random(5)
    narrow = as_lists(length_batches(sources, targets, max_tokens, rng))
    wide = length_batches(sources.astype(np.int64), targets.astype(np.int32), max_tokens, reference)
    assert narrow == as_lists(wide)
    # The next epoch starts from the state after one 64-bit draw, whatever the corpus size.
    expected = random.Random(5)
    expected.getrandbits(64)
    assert rng.getstate() == reference.getstate() == expected.getstate()


@pytest.mark.parametrize("counted_cells", [0, 1 << 22])
def test_chunked_equals_in_one_piece(monkeypatch: pytest.MonkeyPatch, counted_cells: int) -> None:
    """Small chunks, and cells found by np.unique instead of a table, change nothing."""
    lengths, max_tokens = random_corpus(4)
    whole = as_lists(length_batches(*arrays(lengths), max_tokens, random.Random(1)))
    monkeypatch.setattr(bucketing, "CHUNK", 7)
    monkeypatch.setattr(bucketing, "_MOST_COUNTED_CELLS", counted_cells)
    assert as_lists(length_batches(*arrays(lengths), max_tokens, random.Random(1))) == whole
    assert count_batches(*arrays(lengths), max_tokens) == len(whole)


def test_hand_computed_cuts() -> None:
    # Budget 12: [2, 2, 3] costs 3 * 3 = 9, adding 4 would cost 4 * 4 = 16: cut; [4, 4] = 8,
    # adding 5 costs 15: cut; 13 alone exceeds the budget but still forms its own batch.
    values, counts = np.array([2, 3, 4, 5, 13]), np.array([2, 1, 2, 1, 1])
    assert run_cuts(values, counts, 12).tolist() == [3, 5, 6]
    # Seven sentences of width 3 under budget 12: four per batch.
    assert run_cuts(np.array([3]), np.array([7]), 12).tolist() == [4]


def test_sorted_by_target_then_source_without_rng() -> None:
    sources, targets = arrays([(5, 2), (1, 9), (3, 2), (2, 2)])
    assert [b.tolist() for b in length_batches(sources, targets, 100)] == [[3, 2, 0, 1]]


def test_empty_corpus_and_bad_budget() -> None:
    empty = np.zeros(0, dtype=np.uint16)
    assert len(length_batches(empty, empty, 10)) == 0
    assert len(length_batches(empty, empty, 10, random.Random(0))) == 0
    assert count_batches(empty, empty, 10) == 0
    with pytest.raises(ValueError, match="max_tokens must be positive"):
        length_batches(empty, empty, 0)


def test_sorted_sizes_by_counting_equal_sorting() -> None:
    draw = np.random.default_rng(0)
    sources, targets = draw.integers(1, 30, 500), draw.integers(1, 30, 500)
    order = np.lexsort((sources, targets))
    expected = np.maximum(sources, targets)[order]
    assert sorted_sizes(sources, targets).tolist() == expected.tolist()
    long_sources = sources * 100_000  # too many cells to count: sorted instead
    expected = np.maximum(long_sources, targets)[np.lexsort((long_sources, targets))]
    assert sorted_sizes(long_sources, targets).tolist() == expected.tolist()
