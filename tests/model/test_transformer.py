"""Whole-model behaviour: shapes, no look-ahead, padding never leaks, tied weights, weights."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from transformer_mt.model import Transformer

PAD, BOS, EOS = 0, 2, 3
TOL = {"rtol": 1e-5, "atol": 1e-5}

VARIANTS = [
    {},
    {"norm_position": "pre"},
    {"activation": "gelu"},
    {"positional_encoding": "learned"},
    {"norm_position": "pre", "activation": "gelu", "positional_encoding": "learned"},
    {"share_embeddings": False, "tie_output": False, "src_vocab_size": 30},
    {"num_encoder_layers": 1, "num_decoder_layers": 1},
]
VARIANT_IDS = ["post-relu-sin", "pre", "gelu", "learned", "pre-gelu-learned", "untied", "1-layer"]


def tgt_batch() -> torch.Tensor:
    """Decoder inputs ``<s> + y`` for three sentences of lengths 4, 2 and 5, padded. ``(3, 5)``."""
    return torch.tensor(
        [
            [BOS, 7, 12, 5, 9],
            [BOS, 10, PAD, PAD, PAD],
            [BOS, 4, 6, 8, 15],
        ]
    )


@pytest.mark.parametrize("overrides", VARIANTS, ids=VARIANT_IDS)
def test_forward_shape_and_finite(
    make_model: Callable[..., Transformer], src_batch: torch.Tensor, overrides: dict[str, object]
) -> None:
    model = make_model(**overrides)
    with torch.no_grad():
        logits = model(src_batch, tgt_batch())
        memory = model.encode(src_batch)
    assert memory.shape == (3, 6, 16)
    assert logits.shape == (3, 5, model.config.tgt_vocab_size)
    assert torch.isfinite(logits).all()


def test_variants_compute_different_functions(make_model: Callable[..., Transformer]) -> None:
    """Each option really changes the computation (same seed, same weights where shapes allow)."""
    src = torch.tensor([[5, 9, 14, EOS]])
    tgt = torch.tensor([[BOS, 7, 12]])
    with torch.no_grad():
        outputs = [make_model(**o)(src, tgt) for o in VARIANTS[:4]]
    for i in range(len(outputs)):
        for j in range(i + 1, len(outputs)):
            assert not torch.allclose(outputs[i], outputs[j]), (VARIANT_IDS[i], VARIANT_IDS[j])


@pytest.mark.parametrize("overrides", VARIANTS[:5], ids=VARIANT_IDS[:5])
def test_changing_a_future_token_never_changes_earlier_logits(
    make_model: Callable[..., Transformer], src_batch: torch.Tensor, overrides: dict[str, object]
) -> None:
    model = make_model(**overrides)
    tgt = tgt_batch()[[0, 2]]
    src = src_batch[[0, 2]]
    with torch.no_grad():
        base = model(src, tgt)
        for position in range(1, tgt.shape[1]):
            changed = tgt.clone()
            changed[:, position] = 20
            logits = model(src, changed)
            torch.testing.assert_close(logits[:, :position], base[:, :position], **TOL)
            assert not torch.allclose(logits[:, position:], base[:, position:], atol=1e-4)


@pytest.mark.parametrize("overrides", VARIANTS, ids=VARIANT_IDS)
def test_extra_source_and_target_padding_never_changes_real_logits(
    make_model: Callable[..., Transformer], src_batch: torch.Tensor, overrides: dict[str, object]
) -> None:
    model = make_model(**overrides)
    src, tgt = src_batch, tgt_batch()
    padded_src = torch.cat([src, torch.full((3, 4), PAD)], dim=1)
    padded_tgt = torch.cat([tgt, torch.full((3, 3), PAD)], dim=1)
    with torch.no_grad():
        base = model(src, tgt)
        padded = model(padded_src, padded_tgt)
    real = tgt != PAD  # (B, T)
    assert padded.shape == (3, 8, model.config.tgt_vocab_size)
    torch.testing.assert_close(padded[:, :5][real], base[real], **TOL)


@pytest.mark.parametrize("overrides", VARIANTS, ids=VARIANT_IDS)
def test_a_batch_equals_its_sentences_one_at_a_time(
    make_model: Callable[..., Transformer], src_batch: torch.Tensor, overrides: dict[str, object]
) -> None:
    model = make_model(**overrides)
    tgt = tgt_batch()
    with torch.no_grad():
        batched = model(src_batch, tgt)
        for row in range(3):
            src_len = int((src_batch[row] != PAD).sum())
            tgt_len = int((tgt[row] != PAD).sum())
            alone = model(src_batch[row : row + 1, :src_len], tgt[row : row + 1, :tgt_len])
            torch.testing.assert_close(batched[row : row + 1, :tgt_len], alone, **TOL)


def test_forward_is_encode_decode_project(model: Transformer, src_batch: torch.Tensor) -> None:
    tgt = tgt_batch()
    with torch.no_grad():
        memory = model.encode(src_batch)
        hidden = model.decode(tgt, memory, src_batch)
        manual = model.project(hidden)
        logits = model(src_batch, tgt)
    assert hidden.shape == (3, 5, 16)
    torch.testing.assert_close(manual, logits)
    torch.testing.assert_close(manual, hidden @ model.target_embedder.tokens.weight.T)


def test_tied_embeddings_share_storage(make_model: Callable[..., Transformer]) -> None:
    model = make_model()
    target = model.target_embedder.tokens.weight
    assert model.output_projection.weight is target
    assert model.source_embedder.tokens.weight is target
    assert model.output_projection.weight.data_ptr() == target.data_ptr()
    # Counted once among the parameters, so an optimiser updates one tensor.
    assert sum(p is target for p in model.parameters()) == 1
    # Padding embedding starts at zero.
    assert torch.all(target[PAD] == 0)


def test_untied_embeddings_are_separate(make_model: Callable[..., Transformer]) -> None:
    model = make_model(share_embeddings=False, tie_output=False, src_vocab_size=30)
    source = model.source_embedder.tokens.weight
    target = model.target_embedder.tokens.weight
    assert source.shape == (30, 16)
    assert target.shape == (24, 16)
    assert model.output_projection.weight.data_ptr() != target.data_ptr()
    assert source.data_ptr() != target.data_ptr()


def test_tied_gradient_is_the_sum_of_embedding_and_projection_gradients(
    make_model: Callable[..., Transformer], src_batch: torch.Tensor
) -> None:
    tied = make_model()
    untied = make_model(tie_output=False)
    untied.load_state_dict(tied.state_dict())  # same values, separate projection matrix
    upstream = torch.randn(3, 5, 24, generator=torch.Generator().manual_seed(0))
    for model in (tied, untied):
        (model(src_batch, tgt_batch()) * upstream).sum().backward()
    tied_grad = tied.output_projection.weight.grad
    embedding_grad = untied.target_embedder.tokens.weight.grad
    projection_grad = untied.output_projection.weight.grad
    assert tied_grad is not None
    assert embedding_grad is not None
    assert projection_grad is not None
    torch.testing.assert_close(tied_grad, embedding_grad + projection_grad, rtol=1e-5, atol=1e-6)


def test_attention_weights_per_layer(model: Transformer, src_batch: torch.Tensor) -> None:
    tgt = tgt_batch()
    encoder_weights: list[dict[str, torch.Tensor]] = []
    decoder_weights: list[dict[str, torch.Tensor]] = []
    with torch.no_grad():
        memory = model.encode(src_batch, weights=encoder_weights)
        hidden = model.decode(tgt, memory, src_batch, weights=decoder_weights)
        plain_memory = model.encode(src_batch)
        plain_hidden = model.decode(tgt, plain_memory, src_batch)
    # Asking for weights takes the explicit path, which computes the same function.
    torch.testing.assert_close(memory, plain_memory, **TOL)
    torch.testing.assert_close(hidden, plain_hidden, **TOL)

    assert len(encoder_weights) == 2
    assert len(decoder_weights) == 2
    src_real = src_batch != PAD  # (B, S)
    for layer in encoder_weights:
        assert set(layer) == {"self"}
        weights = layer["self"]
        assert weights.shape == (3, 2, 6, 6)
        torch.testing.assert_close(weights.sum(-1), torch.ones(3, 2, 6))
        assert torch.all(weights.masked_select(~src_real[:, None, None, :]) == 0)
    for layer in decoder_weights:
        assert set(layer) == {"self", "cross"}
        self_weights, cross_weights = layer["self"], layer["cross"]
        assert self_weights.shape == (3, 2, 5, 5)
        assert cross_weights.shape == (3, 2, 5, 6)
        torch.testing.assert_close(self_weights.sum(-1), torch.ones(3, 2, 5))
        torch.testing.assert_close(cross_weights.sum(-1), torch.ones(3, 2, 5))
        assert torch.all(self_weights.triu(diagonal=1) == 0)
        assert torch.all(cross_weights.masked_select(~src_real[:, None, None, :]) == 0)
        # Sentence 1's real queries (positions 0 and 1) never look at its padded targets.
        assert torch.all(self_weights[1, :, :2, 2:] == 0)


def test_sequences_longer_than_max_positions_are_rejected(
    make_model: Callable[..., Transformer],
) -> None:
    model = make_model(max_positions=4)
    with pytest.raises(ValueError, match="max_positions=4"):
        model(torch.tensor([[5, 6, 7, 8, EOS]]), torch.tensor([[BOS, 5]]))


def test_dropout_makes_training_stochastic_and_eval_deterministic(
    make_model: Callable[..., Transformer], src_batch: torch.Tensor
) -> None:
    model = make_model(dropout=0.3)
    tgt = tgt_batch()
    with torch.no_grad():
        model.train()
        torch.manual_seed(1)
        first = model(src_batch, tgt)
        torch.manual_seed(1)
        again = model(src_batch, tgt)
        second = model(src_batch, tgt)
        model.eval()
        eval_first, eval_second = model(src_batch, tgt), model(src_batch, tgt)
    torch.testing.assert_close(first, again)
    assert not torch.allclose(first, second)
    torch.testing.assert_close(eval_first, eval_second)
