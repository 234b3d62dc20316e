"""An LSTM baseline with (about) the same number of parameters as a given Transformer."""

from __future__ import annotations

from transformer_mt.model.config import TransformerConfig
from transformer_mt.model.factory import build_model, parameter_count
from transformer_mt.model.lstm_config import LSTMConfig


def lstm_parameters(config: LSTMConfig) -> int:
    """Parameters of :class:`LSTMSeq2Seq` for ``config``, counted without building it."""
    d, half = config.d_model, config.d_model // 2
    embeddings = config.tgt_vocab_size * d
    embeddings += 0 if config.share_embeddings else config.src_vocab_size * d
    embeddings += 0 if config.tie_output else config.tgt_vocab_size * d
    # torch's LSTM: W_ih (4h x in), W_hh (4h x h) and two biases (4h) per direction and layer.
    encoder = config.num_encoder_layers * 2 * (4 * half * (d + half) + 8 * half)
    decoder = sum(
        4 * d * ((2 * d if index == 0 else d) + d) + 8 * d
        for index in range(config.num_decoder_layers)
    )
    bridge = d * d + d
    attention = d * d if config.attention == "general" else 0
    combine = 2 * d * d
    return embeddings + encoder + decoder + bridge + attention + combine


def matched_lstm(
    transformer: TransformerConfig, *, attention: str = "general", dropout: float | None = None
) -> LSTMConfig:
    """The LSTM with the Transformer's vocabularies, layer counts and special ids whose (even)
    width ``d_model`` brings its parameter count closest to the Transformer's."""
    target = parameter_count(build_model(transformer))

    def config(width: int) -> LSTMConfig:
        return LSTMConfig(
            src_vocab_size=transformer.src_vocab_size,
            tgt_vocab_size=transformer.tgt_vocab_size,
            d_model=width,
            num_encoder_layers=transformer.num_encoder_layers,
            num_decoder_layers=transformer.num_decoder_layers,
            dropout=transformer.dropout if dropout is None else dropout,
            attention=attention,
            max_positions=transformer.max_positions,
            share_embeddings=transformer.share_embeddings,
            tie_output=transformer.tie_output,
            pad_id=transformer.pad_id,
            bos_id=transformer.bos_id,
            eos_id=transformer.eos_id,
        )

    low, high = 1, 4 * transformer.d_model  # half-widths: the parameter count grows with them
    while low < high:
        middle = (low + high) // 2
        if lstm_parameters(config(2 * middle)) < target:
            low = middle + 1
        else:
            high = middle
    candidates = [config(2 * half) for half in (max(low - 1, 1), low)]
    return min(candidates, key=lambda c: abs(lstm_parameters(c) - target))
