"""Optional golden test against Hugging Face's ``MarianMTModel`` (post-norm, sinusoidal, tied).

Skipped unless ``transformers`` is installed. Marian's sinusoidal table is not interleaved
(sin in the first half, cos in the second), so its position table is overwritten with ours; every
other weight is copied by name.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from transformer_mt.model import Transformer
from transformer_mt.model.attention import MultiHeadAttention

transformers = pytest.importorskip("transformers")

PAD, BOS, EOS = 0, 2, 3


def copy_attention(target: torch.nn.Module, source: MultiHeadAttention) -> None:
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        getattr(target, name).load_state_dict(getattr(source, name).state_dict())


def marian_copy(model: Transformer) -> torch.nn.Module:
    config = model.config
    marian_config = transformers.MarianConfig(
        vocab_size=config.tgt_vocab_size,
        decoder_vocab_size=config.tgt_vocab_size,
        d_model=config.d_model,
        encoder_layers=config.num_encoder_layers,
        decoder_layers=config.num_decoder_layers,
        encoder_attention_heads=config.num_heads,
        decoder_attention_heads=config.num_heads,
        encoder_ffn_dim=config.d_ff,
        decoder_ffn_dim=config.d_ff,
        activation_function=config.activation,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        max_position_embeddings=config.max_positions,
        scale_embedding=True,
        pad_token_id=config.pad_id,
        eos_token_id=config.eos_id,
        decoder_start_token_id=config.bos_id,
        share_encoder_decoder_embeddings=True,
        tie_word_embeddings=True,
    )
    marian = transformers.MarianMTModel(marian_config).eval()
    marian.config._attn_implementation = "eager"  # plain softmax attention with additive masks
    with torch.no_grad():
        shared = model.target_embedder.tokens.weight
        marian.model.shared.weight.copy_(shared)
        marian.model.encoder.embed_tokens.weight.copy_(shared)
        marian.model.decoder.embed_tokens.weight.copy_(shared)
        marian.lm_head.weight.copy_(model.output_projection.weight)
        marian.final_logits_bias.zero_()
        table = model.target_embedder.positions.table
        marian.model.encoder.embed_positions.weight.copy_(table)
        marian.model.decoder.embed_positions.weight.copy_(table)
        for ref, ours in zip(marian.model.encoder.layers, model.encoder_layers, strict=True):
            copy_attention(ref.self_attn, ours.self_attention)
            ref.self_attn_layer_norm.load_state_dict(ours.attention_residual.norm.state_dict())
            ref.fc1.load_state_dict(ours.feed_forward.expand.state_dict())
            ref.fc2.load_state_dict(ours.feed_forward.contract.state_dict())
            ref.final_layer_norm.load_state_dict(ours.feed_forward_residual.norm.state_dict())
        for ref, ours in zip(marian.model.decoder.layers, model.decoder_layers, strict=True):
            copy_attention(ref.self_attn, ours.self_attention)
            copy_attention(ref.encoder_attn, ours.cross_attention)
            ref.self_attn_layer_norm.load_state_dict(ours.self_attention_residual.norm.state_dict())
            ref.encoder_attn_layer_norm.load_state_dict(
                ours.cross_attention_residual.norm.state_dict()
            )
            ref.fc1.load_state_dict(ours.feed_forward.expand.state_dict())
            ref.fc2.load_state_dict(ours.feed_forward.contract.state_dict())
            ref.final_layer_norm.load_state_dict(ours.feed_forward_residual.norm.state_dict())
    return marian


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_logits_equal_marian(
    make_model: Callable[..., Transformer], src_batch: torch.Tensor, activation: str
) -> None:
    model = make_model(activation=activation)
    marian = marian_copy(model)
    tgt = torch.tensor([[BOS, 7, 12, 5, 9], [BOS, 10, PAD, PAD, PAD], [BOS, 4, 6, 8, 15]])
    with torch.no_grad():
        ours = model(src_batch, tgt)
        theirs = marian(
            input_ids=src_batch,
            attention_mask=(src_batch != PAD).long(),
            decoder_input_ids=tgt,
            decoder_attention_mask=(tgt != PAD).long(),
        ).logits
    real = tgt != PAD
    torch.testing.assert_close(ours[real], theirs[real], rtol=1e-4, atol=1e-5)
    assert torch.equal(ours[real].argmax(-1), theirs[real].argmax(-1))
