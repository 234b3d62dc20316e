"""The blocked top-k and argmax equal torch's on vocabulary-sized rows, ties and padding."""

from __future__ import annotations

import pytest
import torch

from transformer_mt.decoding.topk import BLOCK, MIN_BLOCKED, argmax, top_k

# Enough scores for the blocked path; widths with and without a partial last block.
SHAPES = [(8, MIN_BLOCKED // 8), (3, 30 * BLOCK + 17), (40, 16_000)]


@pytest.mark.parametrize(("rows", "width"), SHAPES)
@pytest.mark.parametrize("k", [1, 8])
def test_top_k_equals_torch_topk(rows: int, width: int, k: int) -> None:
    scores = torch.randn(rows, width, generator=torch.Generator().manual_seed(width))
    values, ids = top_k(scores, k)
    expected = scores.topk(k, dim=-1)
    assert torch.equal(values, expected.values)
    assert torch.equal(ids, expected.indices)


@pytest.mark.parametrize(("rows", "width"), SHAPES)
def test_top_k_with_many_ties_keeps_the_right_values(rows: int, width: int) -> None:
    scores = torch.randint(0, 4, (rows, width), generator=torch.Generator().manual_seed(1))
    values, ids = top_k(scores.float(), 8)
    assert torch.equal(values, scores.float().topk(8, dim=-1).values)
    assert torch.equal(scores.float().gather(1, ids), values)  # ids point at those values
    assert all(len(set(row)) == 8 for row in ids.tolist())  # no id twice


@pytest.mark.parametrize(("rows", "width"), SHAPES)
def test_argmax_equals_torch_argmax_first_of_ties(rows: int, width: int) -> None:
    generator = torch.Generator().manual_seed(2)
    scores = torch.randn(rows, width, generator=generator)
    assert torch.equal(argmax(scores), scores.argmax(dim=-1))
    tied = torch.randint(0, 3, (rows, width), generator=generator).float()
    assert torch.equal(argmax(tied), tied.argmax(dim=-1))  # torch: the first maximal index


def test_the_maximum_in_the_partial_last_block_wins() -> None:
    scores = torch.zeros(20, 4 * BLOCK + 5)
    scores[:, -1] = 1.0  # strictly highest, in the tail
    scores[:, 3] = 1.0 - 1e-6
    assert argmax(scores).tolist() == [4 * BLOCK + 4] * 20
    assert top_k(scores, 2)[1].tolist() == [[4 * BLOCK + 4, 3]] * 20


def test_blocked_rows_like_a_search_are_never_chosen() -> None:
    scores = torch.randn(16, 8_000, generator=torch.Generator().manual_seed(3))
    scores[:, [0, 2]] = float("-inf")  # padding and <s>, as the search blocks them
    assert not set(argmax(scores).tolist()) & {0, 2}


def test_k_larger_than_the_row_is_refused() -> None:
    with pytest.raises(ValueError, match="k=9"):
        top_k(torch.zeros(2, 8), 9)
