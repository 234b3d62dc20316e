"""Encoding in groups of similar length: the grouping is the cheapest one (checked against every
partition), and each sentence's encoding is the whole batch's."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
import torch

from transformer_mt.inference.convert import convert_for_inference
from transformer_mt.inference.length_groups import (
    encode_in_groups,
    length_groups,
    source_lengths,
)
from transformer_mt.inference.native import build
from transformer_mt.model import Transformer

Maker = Callable[..., Transformer]


def padded_cost(lengths: list[int], groups: list[list[int]], group_cost: int) -> int:
    return sum(len(g) * max(lengths[i] for i in g) + group_cost for g in groups)


def cheapest_by_enumeration(lengths: list[int], group_cost: int) -> int:
    """The least cost over every way of cutting the sorted lengths into consecutive runs."""
    ordered = sorted(lengths)
    best = None
    for cuts in itertools.product([False, True], repeat=len(ordered) - 1):
        total, start = 0, 0
        for end, cut in enumerate([*cuts, True], start=1):
            if cut:
                total += (end - start) * ordered[end - 1] + group_cost
                start = end
        best = total if best is None else min(best, total)
    return best or 0


def test_lengths_count_up_to_the_last_real_token() -> None:
    src = torch.tensor([[5, 6, 3, 0], [7, 3, 0, 0], [0, 0, 0, 0], [4, 5, 6, 3]])
    assert source_lengths(src, pad_id=0) == [3, 2, 1, 4]


def test_far_apart_lengths_split_and_close_ones_stay_together() -> None:
    assert sorted(map(sorted, length_groups([3, 20, 3, 20], group_cost=5))) == [[0, 2], [1, 3]]
    assert length_groups([5, 6, 6], group_cost=100) == [[0, 1, 2]]
    assert length_groups([]) == []


@pytest.mark.parametrize("seed", range(6))
def test_the_grouping_is_the_cheapest_partition(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 30, (9,), generator=generator).tolist()
    for group_cost in (0, 7, 40):
        groups = length_groups(lengths, group_cost)
        assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
        cost = padded_cost(lengths, groups, group_cost)
        assert cost == cheapest_by_enumeration(lengths, group_cost)


def varied_source() -> torch.Tensor:
    """Five sentences of 2-12 tokens, right-padded to 12: (5, 12)."""
    rows = [
        [5, 6, 3],
        [7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 3],
        [9, 3],
        [4] * 10 + [3],
        [6] * 3,
    ]
    return torch.tensor([row + [0] * (12 - len(row)) for row in rows])


def test_grouped_encodings_equal_the_whole_batch_and_padding_is_zero(make_model: Maker) -> None:
    model = make_model()
    src = varied_source()
    with torch.inference_mode():
        whole = model.encode(src)  # (B, S, D)
        grouped = encode_in_groups(model.encode, src, pad_id=0, group_cost=0)
    real = (src != 0)[..., None]  # (B, S, 1)
    torch.testing.assert_close(grouped * real, whole * real, rtol=1e-5, atol=1e-5)
    lengths = source_lengths(src, 0)
    for row, length in enumerate(lengths):
        assert torch.equal(grouped[row, length:], torch.zeros_like(grouped[row, length:]))


@pytest.mark.skipif(build.native_ops() is None, reason="native kernel not built here")
def test_an_int8_model_encodes_in_groups_and_decodes_as_before(make_model: Maker) -> None:
    src = varied_source()
    grouped = convert_for_inference(make_model(), "int8", torch.device("cpu"), fast=True)
    plain = convert_for_inference(make_model(), "int8", torch.device("cpu"), fast=True)
    assert grouped.grouped_encoder
    plain.grouped_encoder = False
    with torch.inference_mode():
        real = (src != 0)[..., None]  # (B, S, 1)
        torch.testing.assert_close(
            grouped.encode(src) * real, plain.encode(src) * real, rtol=1e-5, atol=1e-5
        )
