"""Bucketing over length arrays gives exactly the batches of the list-based reference."""

from __future__ import annotations

import random

import numpy as np
import pytest

from transformer_mt.data.batching import token_budget_batches
from transformer_mt.data.bucketing import count_batches, length_batches, run_cuts, sorted_sizes


def arrays(lengths: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.array([s for s, _ in lengths], dtype=np.uint16),
        np.array([t for _, t in lengths], dtype=np.uint16),
    )


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("shuffled", [True, False])
def test_equal_to_token_budget_batches_and_draws_the_same_random_numbers(
    seed: int, shuffled: bool
) -> None:
    draw = random.Random(seed)
    lengths = [(draw.randint(1, 40), draw.randint(1, 50)) for _ in range(draw.randint(1, 800))]
    max_tokens = draw.choice([1, 7, 64, 300])
    reference_rng = random.Random(seed + 100) if shuffled else None
    rng = random.Random(seed + 100) if shuffled else None

    expected = token_budget_batches(lengths, max_tokens, reference_rng)
    batches = length_batches(*arrays(lengths), max_tokens, rng)

    assert [batch.tolist() for batch in batches] == expected
    assert count_batches(*arrays(lengths), max_tokens) == len(expected)
    if shuffled:  # the epoch after this one starts from the same random state
        assert rng is not None and reference_rng is not None
        assert rng.random() == reference_rng.random()


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
