"""Splits and the source/target swap used for the reverse direction."""

from __future__ import annotations

import dataclasses

import pytest

from transformer_mt.data.pairs import Splits


def test_reversed_swaps_every_pair() -> None:
    splits = Splits(train=[("a", "甲"), ("b", "乙")], valid=[("c", "丙")], test=[])
    assert splits.reversed() == Splits(
        train=[("甲", "a"), ("乙", "b")], valid=[("丙", "c")], test=[]
    )
    assert splits.reversed().reversed() == splits


def test_splits_are_frozen() -> None:
    splits = Splits(train=[], valid=[], test=[])
    with pytest.raises(dataclasses.FrozenInstanceError):
        splits.train = [("x", "y")]  # type: ignore[misc]  # assigning is the point of the test
