"""The native top-k equals a stable descending sort's first k: the same values and, on ties,
the lower ids first; the search's ``top_k`` and ``argmax`` take it once the library is loaded."""

from __future__ import annotations

import pytest
import torch

from transformer_mt.decoding.topk import argmax, top_k
from transformer_mt.inference.native import build

OPS = build.native_ops()
pytestmark = pytest.mark.skipif(OPS is None, reason=f"{build.unavailable_reason()}")


def stable_top_k(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    ordered = scores.sort(dim=-1, descending=True, stable=True)
    return ordered.values[:, :k], ordered.indices[:, :k]


def rows_with_ties(rows: int, width: int, seed: int) -> torch.Tensor:
    """Four distinct values and ``-inf`` (blocked tokens), so that ties are everywhere."""
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randint(-4, 1, (rows, width), generator=generator).float()
    return scores.masked_fill(scores == -4, float("-inf"))


@pytest.mark.parametrize(("rows", "width"), [(1, 1), (3, 7), (2, 8), (5, 41), (4, 32_000)])
@pytest.mark.parametrize("k", [1, 2, 7, 8])
def test_equals_a_stable_sort(rows: int, width: int, k: int) -> None:
    assert OPS is not None
    k = min(k, width)
    for scores in (
        torch.randn(rows, width, generator=torch.Generator().manual_seed(width)),
        rows_with_ties(rows, width, seed=k),
    ):
        values, ids = OPS.top_k(scores, k)
        expected_values, expected_ids = stable_top_k(scores, k)
        assert torch.equal(values, expected_values)
        assert torch.equal(ids, expected_ids)


def test_rows_of_minus_infinity_keep_their_first_ids() -> None:
    assert OPS is not None
    scores = torch.full((2, 20), float("-inf"))
    scores[1, 13] = -1.0
    values, ids = OPS.top_k(scores, 3)
    assert ids.tolist() == [[0, 1, 2], [13, 0, 1]]
    assert values[1].tolist() == [-1.0, float("-inf"), float("-inf")]


def test_a_non_contiguous_input_is_read_correctly() -> None:
    assert OPS is not None
    scores = torch.randn(30, 6, generator=torch.Generator().manual_seed(3)).t()  # (6, 30)
    assert torch.equal(OPS.top_k(scores, 4)[1], stable_top_k(scores, 4)[1])


def test_the_search_helpers_use_it_once_loaded() -> None:
    assert build.loaded_ops() is not None  # loaded above
    scores = rows_with_ties(6, 8_000, seed=5)
    assert torch.equal(top_k(scores, 8)[1], stable_top_k(scores, 8)[1])
    assert torch.equal(argmax(scores), scores.argmax(dim=-1))


def test_bad_arguments_are_refused() -> None:
    assert OPS is not None
    with pytest.raises(RuntimeError, match="k <= W"):
        OPS.top_k(torch.zeros(2, 3), 4)
    with pytest.raises(RuntimeError, match="fp32"):
        OPS.top_k(torch.zeros(2, 3, dtype=torch.float64), 1)
