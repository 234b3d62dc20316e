"""The three attention masks on hand-written cases: boolean, True = may attend."""

from __future__ import annotations

import torch

from transformer_mt import masks

T, F = True, False
PAD = 0


def test_padding_mask_marks_real_tokens() -> None:
    ids = torch.tensor([[5, 6, 0], [7, 0, 0]])
    expected = torch.tensor([[T, T, F], [T, F, F]])
    assert torch.equal(masks.padding_mask(ids, PAD), expected)


def test_padding_mask_uses_the_given_pad_id() -> None:
    ids = torch.tensor([[1, 0, 1]])
    assert torch.equal(masks.padding_mask(ids, pad_id=1), torch.tensor([[F, T, F]]))


def test_causal_mask_3x3() -> None:
    expected = torch.tensor(
        [
            [T, F, F],
            [T, T, F],
            [T, T, T],
        ]
    )
    mask = masks.causal_mask(3)
    assert mask.dtype == torch.bool
    assert torch.equal(mask, expected)


def test_causal_mask_length_one() -> None:
    assert torch.equal(masks.causal_mask(1), torch.tensor([[T]]))


def test_encoder_mask_hides_padding_keys_only() -> None:
    src = torch.tensor([[4, 5, 0], [6, 0, 0]])
    mask = masks.encoder_mask(src, PAD)
    assert mask.shape == (2, 1, 1, 3)
    assert torch.equal(mask[:, 0, 0], torch.tensor([[T, T, F], [T, F, F]]))
    # Broadcast over heads and queries: every query row sees the same real keys.
    full = mask.expand(2, 4, 3, 3)
    assert torch.equal(full[0, 3, 2], torch.tensor([T, T, F]))
    assert torch.equal(full[1, 0, 0], torch.tensor([T, F, F]))


def test_cross_mask_has_encoder_mask_contents_and_broadcasts_over_targets() -> None:
    src = torch.tensor([[4, 5, 0], [6, 7, 8]])
    mask = masks.cross_mask(src, PAD)
    assert mask.shape == (2, 1, 1, 3)
    assert torch.equal(mask, masks.encoder_mask(src, PAD))
    scores = torch.zeros(2, 2, 5, 3)  # (B, H, T, S) with T=5 != S=3
    assert torch.broadcast_shapes(mask.shape, scores.shape) == (2, 2, 5, 3)
    assert torch.equal(mask.expand_as(scores)[0, 1, 4], torch.tensor([T, T, F]))


def test_decoder_self_mask_without_padding_is_causal() -> None:
    tgt = torch.tensor([[2, 7, 8]])
    mask = masks.decoder_self_mask(tgt, PAD)
    assert mask.shape == (1, 1, 3, 3)
    expected = torch.tensor(
        [
            [T, F, F],
            [T, T, F],
            [T, T, T],
        ]
    )
    assert torch.equal(mask[0, 0], expected)


def test_decoder_self_mask_with_padding() -> None:
    # Row 1 has one real token after <s> and one pad; row 0 none.
    tgt = torch.tensor([[2, 7, 8], [2, 9, 0]])
    mask = masks.decoder_self_mask(tgt, PAD)
    assert mask.shape == (2, 1, 3, 3)
    assert torch.equal(
        mask[0, 0],
        torch.tensor(
            [
                [T, F, F],
                [T, T, F],
                [T, T, T],
            ]
        ),
    )
    # Real queries never see the pad key; the pad query keeps its diagonal (no all-False row).
    assert torch.equal(
        mask[1, 0],
        torch.tensor(
            [
                [T, F, F],
                [T, T, F],
                [T, T, T],
            ]
        ),
    )


def test_decoder_self_mask_hides_padding_keys_from_every_query() -> None:
    # Left padding (not produced by our batches) shows the padding-key rule separately from
    # the causal rule: column 0 is hidden from every other query.
    tgt = torch.tensor([[0, 2, 7]])
    mask = masks.decoder_self_mask(tgt, PAD)
    expected = torch.tensor(
        [
            [T, F, F],  # the pad query keeps only its diagonal
            [F, T, F],
            [F, T, T],
        ]
    )
    assert torch.equal(mask[0, 0], expected)


def test_no_mask_row_is_all_false() -> None:
    tgt = torch.tensor([[2, 0, 0, 0], [2, 5, 6, 0]])
    assert masks.decoder_self_mask(tgt, PAD).any(dim=-1).all()


def test_additive_mask_is_zero_where_allowed_and_minus_infinity_elsewhere() -> None:
    mask = masks.decoder_self_mask(torch.tensor([[5, 6, PAD]]), PAD)  # (1, 1, 3, 3)
    bias = masks.additive(mask)
    assert bias.dtype == torch.float32 and bias.shape == mask.shape
    assert torch.equal(bias == 0, mask)
    assert torch.equal(bias == float("-inf"), ~mask)
    assert masks.additive(mask, torch.bfloat16).dtype == torch.bfloat16
