"""Word alignments from a token attention matrix, derived by hand."""

from __future__ import annotations

import torch

from transformer_mt.decoding.alignment import pharaoh, word_alignment


def test_pieces_are_summed_into_words_and_tokens_averaged() -> None:
    # Source tokens: "▁hel" "lo" "▁world" "</s>" -> words 0, 0, 1, none.
    # Target tokens: "▁你好" (words 0 and 1), "世" (2), "界" (3), "</s>" left out.
    attention = torch.tensor(
        [
            [0.3, 0.3, 0.1, 0.3],  # 你好: hello 0.6, world 0.1
            [0.1, 0.1, 0.3, 0.5],  # 世: hello 0.2, world 0.3 (</s>'s 0.5 never counts)
            [0.4, 0.0, 0.35, 0.25],  # 界: hello 0.4, world 0.35
        ]
    )
    alignment = word_alignment(attention, [0, 0, 1, None], [[0, 1], [2], [3]])
    assert alignment == ((0, 0), (0, 1), (0, 3), (1, 2))
    assert pharaoh(alignment) == "0-0 0-1 0-3 1-2"


def test_a_target_word_over_two_tokens_takes_their_mean() -> None:
    # Target word 0 spelled by tokens 0 and 1: hello (0.9 + 0.2) beats world (0.1 + 0.8),
    # though token 1 alone prefers world.
    attention = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    assert word_alignment(attention, [0, 1], [[0], [0]]) == ((0, 0),)


def test_nothing_to_align() -> None:
    assert word_alignment(torch.zeros(0, 2), [0, None], []) == ()
    assert pharaoh(()) == ""
