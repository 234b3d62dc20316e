"""Logit processors: pure ``(N, V) -> (N, V)`` functions, on hand-computed examples."""

from __future__ import annotations

import pytest
import torch

from transformer_mt.decoding.processors import (
    apply_temperature,
    top_k_filter,
    top_p_filter,
)

INF = float("inf")


def log_probs(*rows: list[float]) -> torch.Tensor:
    return torch.tensor(rows).log()


def test_top_k_keeps_the_k_best_of_each_row() -> None:
    scores = torch.tensor([[1.0, 5.0, 3.0, 4.0], [0.0, -1.0, 2.0, 1.0]])
    expected = torch.tensor([[-INF, 5.0, -INF, 4.0], [-INF, -INF, 2.0, 1.0]])
    assert torch.equal(top_k_filter(scores, 2), expected)


def test_top_k_zero_or_at_least_vocabulary_keeps_everything() -> None:
    scores = torch.tensor([[1.0, 5.0, 3.0]])
    for k in (0, 3, 10):
        assert torch.equal(top_k_filter(scores, k), scores)


def test_top_k_keeps_ties_with_the_kth_score() -> None:
    scores = torch.tensor([[2.0, 1.0, 2.0, 0.0]])
    assert torch.equal(top_k_filter(scores, 1), torch.tensor([[2.0, -INF, 2.0, -INF]]))


def test_top_p_keeps_the_smallest_prefix_reaching_p() -> None:
    # Sorted probabilities .5, .3, .15, .05 have cumulative mass .5, .8, .95, 1.
    scores = log_probs([0.15, 0.5, 0.05, 0.3])

    def kept(p: float) -> list[bool]:
        return torch.isfinite(top_p_filter(scores, p))[0].tolist()

    assert kept(0.4) == [False, True, False, False]  # .5 alone reaches .4
    assert kept(0.6) == [False, True, False, True]  # .5 + .3
    assert kept(0.9) == [True, True, False, True]  # .5 + .3 + .15
    assert kept(0.96) == [True, True, True, True]
    assert kept(1.0) == [True, True, True, True]


def test_top_p_keeps_values_and_works_per_row_on_unnormalised_scores() -> None:
    # Row 1 is row 0 plus a constant: the same nucleus, since softmax ignores the shift.
    row = torch.tensor([0.15, 0.5, 0.05, 0.3]).log()
    scores = torch.stack([row, row + 7.0, torch.tensor([0.25, 0.25, 0.25, 0.25]).log()])
    filtered = top_p_filter(scores, 0.6)
    assert torch.equal(filtered[0], torch.tensor([-INF, row[1], -INF, row[3]]))
    assert torch.equal(filtered[1], torch.tensor([-INF, row[1] + 7, -INF, row[3] + 7]))
    assert torch.isfinite(filtered[2]).sum() == 3  # .25 + .25 < .6 <= .75


def test_top_p_always_keeps_the_most_likely_token() -> None:
    scores = log_probs([0.2, 0.7, 0.1])
    assert torch.isfinite(top_p_filter(scores, 1e-9))[0].tolist() == [False, True, False]


def test_top_p_rejects_non_positive_p() -> None:
    with pytest.raises(ValueError, match="top_p"):
        top_p_filter(torch.zeros(1, 3), 0.0)


def test_temperature_divides_and_changes_the_distribution_as_expected() -> None:
    scores = log_probs([0.6, 0.4])
    probs = apply_temperature(scores, 0.5).softmax(-1)
    # p^(1/T) renormalised: .36 / .52 and .16 / .52.
    torch.testing.assert_close(probs, torch.tensor([[0.36 / 0.52, 0.16 / 0.52]]))
    # The best score is shifted to 0 first (softmax is unchanged by a shift).
    torch.testing.assert_close(apply_temperature(scores, 2.0), (scores - scores.max()) / 2)
    torch.testing.assert_close(apply_temperature(scores, 1.0), scores - scores.max())


@pytest.mark.parametrize("temperature", [1e-300, 5e-324, 1e-30])
def test_a_tiny_temperature_puts_all_mass_on_the_best_token(temperature: float) -> None:
    # Dividing the raw scores would give -inf - (-inf) = nan in the softmax (an HTTP 500 once).
    scores = log_probs([0.2, 0.5, 0.3], [0.6, 0.1, 0.3])
    scores[1, 2] = -INF
    probs = apply_temperature(scores, temperature).softmax(-1)
    assert torch.equal(probs, torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))


@pytest.mark.parametrize("temperature", [0.0, -1.0])
def test_temperature_must_be_positive(temperature: float) -> None:
    with pytest.raises(ValueError, match="temperature"):
        apply_temperature(torch.zeros(1, 2), temperature)


def test_filters_compose_and_keep_minus_infinity() -> None:
    scores = log_probs([0.1, 0.4, 0.3, 0.2])
    scores[:, 1] = -INF  # blocked, as the search does
    filtered = top_p_filter(top_k_filter(apply_temperature(scores, 0.5), 2), 0.5)
    # Without token 1: .3 and .2 are the top 2; at T=.5 they weigh .09 : .04, so .3 alone
    # (mass .09 / .13 = .69) reaches p = .5.
    assert torch.isfinite(filtered)[0].tolist() == [False, False, True, False]
    assert filtered[0, 2] == 0.0  # the best remaining score, shifted to 0
