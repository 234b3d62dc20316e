"""The unseen-double table: the next tokens it blocks, against a brute-force rule."""

import torch

from transformer_mt.decoding.doubles import DoubleTable

# Token texts of a small target vocabulary; None marks specials and bytes.
PIECES = [
    None,
    None,
    None,
    None,
    "水",
    "喝水",
    "水果",
    "妈",
    "妈妈",
    "帐",
    "帐单",
    "好",
    "ok",
    "。",
]
ALLOWED = frozenset("妈")  # the training data doubles 妈 only


def brute_force(history: list[int]) -> set[int]:
    """Tokens that start with the last character of the output when that double is unseen."""
    last = PIECES[history[-1]] if history else None
    if not last:
        return set()
    char = last[-1]
    return {
        token
        for token, text in enumerate(PIECES)
        if text and text[0] == char and char not in ALLOWED and "\u4e00" <= char <= "\u9fff"
    }


def test_blocks_exactly_the_unseen_doubles() -> None:
    table = DoubleTable.build(PIECES, ALLOWED)
    histories = [[5], [4], [7], [8], [9], [11], [12], [13], [3], [5, 9]]
    mask = torch.zeros(len(histories), len(PIECES), dtype=torch.bool)
    for row, history in enumerate(histories):
        table.block(mask[row : row + 1], torch.tensor([history]))
        assert set(mask[row].nonzero()[:, 0].tolist()) == brute_force(history), history
    assert set(mask[0].nonzero()[:, 0].tolist()) == {4, 6}  # 喝水 + 水 / 水果
    assert not mask[2].any()  # 妈妈 is a real word


def test_batched_rows_match_single_rows() -> None:
    table = DoubleTable.build(PIECES, ALLOWED)
    history = torch.tensor([[1, 5], [1, 9], [2, 7], [3, 13]])  # (A, L)
    batched = torch.zeros(4, len(PIECES), dtype=torch.bool)
    table.block(batched, history)
    for row in range(4):
        single = torch.zeros(1, len(PIECES), dtype=torch.bool)
        table.block(single, history[row : row + 1])
        assert torch.equal(batched[row], single[0])


def test_empty_history_blocks_nothing() -> None:
    table = DoubleTable.build(PIECES, ALLOWED)
    mask = torch.zeros(2, len(PIECES), dtype=torch.bool)
    table.block(mask, torch.zeros(2, 0, dtype=torch.long))
    assert not mask.any()


def test_nothing_to_block_when_every_double_is_allowed() -> None:
    table = DoubleTable.build(PIECES, frozenset("水妈帐好。"))
    mask = torch.zeros(1, len(PIECES), dtype=torch.bool)
    table.block(mask, torch.tensor([[5]]))
    assert not mask.any()
