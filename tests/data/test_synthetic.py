"""The synthetic long-range tasks and their scores, checked against hand-written examples."""

from __future__ import annotations

import pytest

from transformer_mt.data.synthetic import FIRST_SYMBOL, SyntheticTask, score_outputs

A, B, C = FIRST_SYMBOL, FIRST_SYMBOL + 1, FIRST_SYMBOL + 2


def test_targets_by_hand() -> None:
    source = [A, B, C, B]
    assert SyntheticTask("copy", 3).target(source) == [A, B, C, B]
    assert SyntheticTask("reverse", 3).target(source) == [B, C, B, A]
    # The source, then the partner (symbol + 3) of the first input, 4 positions away.
    assert SyntheticTask("agreement", 3).target(source) == [A, B, C, B, A + 3]
    assert SyntheticTask("agreement", 3).vocab_size == FIRST_SYMBOL + 6


@pytest.mark.parametrize("name", ["copy", "reverse", "agreement"])
def test_samples_are_reproducible_and_within_range(name: str) -> None:
    task = SyntheticTask(name, symbols=5)
    sources, targets = task.sample(200, 8, 12, seed=3)
    assert (sources, targets) == task.sample(200, 8, 12, seed=3)
    assert sources != task.sample(200, 8, 12, seed=4)[0]
    assert {len(s) for s in sources} == set(range(8, 13))
    assert all(FIRST_SYMBOL <= t < FIRST_SYMBOL + 5 for s in sources for t in s)
    assert all(0 < t < task.vocab_size for target in targets for t in target)
    assert [task.target(s) for s in sources] == targets


def test_invalid_tasks_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown synthetic task"):
        SyntheticTask("sort")
    with pytest.raises(ValueError, match="min_length"):
        SyntheticTask("copy").sample(3, 9, 8, seed=0)


def test_scores_by_hand() -> None:
    targets = [[A, B, C], [A, A]]
    outputs = [[A, B, C], [A, C, C]]  # exact; one of two right and one token too many
    scores = score_outputs(outputs, targets)
    assert scores.sequence_accuracy == 0.5
    assert scores.token_accuracy == pytest.approx(4 / 5)
    assert scores.last_token_accuracy == 0.5
    short = score_outputs([[A]], [[A, B]])  # a missing position counts as wrong
    assert (short.sequence_accuracy, short.token_accuracy, short.last_token_accuracy) == (
        0.0,
        0.5,
        0.0,
    )
