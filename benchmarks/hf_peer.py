"""The HF Transformers peer of the benchmarks: a MarianMTModel shaped like one of our models,
and its training loss computed the way its users write it (``logits`` -> ``cross_entropy``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812

from transformer_mt.data.batching import Batch


def marian(
    vocab: int, d_model: int, layers: int, heads: int, d_ff: int, dropout: float
) -> torch.nn.Module:
    """A randomly initialised post-norm ReLU MarianMTModel with our special ids (pad 0, <s> 2,
    </s> 3) and tied embeddings (Marian's default activation would be GELU)."""
    import transformers

    config = transformers.MarianConfig(
        vocab_size=vocab, decoder_vocab_size=vocab, d_model=d_model, encoder_layers=layers,
        decoder_layers=layers, encoder_attention_heads=heads, decoder_attention_heads=heads,
        encoder_ffn_dim=d_ff, decoder_ffn_dim=d_ff, dropout=dropout, attention_dropout=0.0,
        activation_dropout=0.0, activation_function="relu", max_position_embeddings=512,
        scale_embedding=True,
        pad_token_id=0, eos_token_id=3, decoder_start_token_id=2,
        share_encoder_decoder_embeddings=True, tie_word_embeddings=True,
    )  # fmt: skip
    return transformers.MarianMTModel(config)


def marian_loss(model: torch.nn.Module, batch: Batch, label_smoothing: float) -> torch.Tensor:
    """Mean label-smoothed cross-entropy over the batch's real target tokens."""
    logits = model(
        input_ids=batch.src_ids,
        attention_mask=batch.src_ids != batch.pad_id,
        decoder_input_ids=batch.tgt_in_ids,
    ).logits  # (B, T, V)
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(),
        batch.tgt_out_ids.reshape(-1),
        ignore_index=batch.pad_id,
        label_smoothing=label_smoothing,
    )
