"""The masks of a real padded batch: contents checked cell by cell against their definitions."""

from __future__ import annotations

import pytest

from cli.toy_data import toy_pairs
from transformer_mt.decoding.translator import Translator
from transformer_mt.errors import UserError
from transformer_mt.explain.masks_view import batch_masks, pick_display_pairs

PAIRS = [("i like tea", "我喜茶"), ("you see a big red car", "你看大红车"), ("dog", "狗")]


def test_mask_contents_follow_the_real_lengths(translator: Translator) -> None:
    view = batch_masks(translator, PAIRS)
    tokenizer = translator.tokenizer
    source_lengths = [len(tokenizer.source_pieces(s)) + 1 for s, _ in PAIRS]  # + </s>
    target_lengths = [len(tokenizer.target_pieces(t)) + 1 for _, t in PAIRS]  # + <s>
    S, T = max(source_lengths), max(target_lengths)  # noqa: N806
    assert view.encoder.shape == (3, S, S) and view.cross.shape == (3, T, S)
    assert view.decoder.shape == (3, T, T)
    for b, (source_length, target_length) in enumerate(
        zip(source_lengths, target_lengths, strict=True)
    ):
        assert view.source_tokens[b][source_length - 1] == "</s>"
        assert view.source_tokens[b][source_length:] == ["<pad>"] * (S - source_length)
        assert view.decoder_tokens[b][0] == "<s>"
        assert view.decoder_tokens[b][target_length:] == ["<pad>"] * (T - target_length)
        for i in range(S):
            for j in range(S):
                assert view.encoder[b, i, j] == (j < source_length)
        for i in range(T):
            for j in range(S):
                assert view.cross[b, i, j] == (j < source_length)
            for j in range(T):
                # causal and not padding; a padded query row keeps its diagonal (no empty row)
                allowed = (j <= i and j < target_length) or i == j
                assert view.decoder[b, i, j] == allowed
    assert any(view.source_tokens[b][-1] == "<pad>" for b in range(3))  # padding is shown


def test_display_pairs_have_different_lengths(translator: Translator) -> None:
    pairs = toy_pairs(30, seed=3)
    chosen = pick_display_pairs(pairs, translator, count=3, max_tokens=8)
    lengths = [len(translator.tokenizer.source_pieces(s)) for s, _ in chosen]
    assert len(chosen) == 3 and len(set(lengths)) == 3 and max(lengths) <= 8
    assert all(pair in pairs for pair in chosen)


def test_no_pairs_is_a_user_error(translator: Translator) -> None:
    with pytest.raises(UserError):
        batch_masks(translator, [])
