"""The LSTM baseline's hyper-parameters: a frozen, validated dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from transformer_mt.model.config import check_vocabulary, require

ATTENTION_SCORES = ("general", "dot")


@dataclass(frozen=True)
class LSTMConfig:
    """Architecture of an attentional LSTM encoder-decoder (Luong et al. 2015).

    The encoder is bidirectional (``d_model / 2`` units per direction, so its outputs are
    ``d_model`` wide like the Transformer's memory); the decoder is unidirectional with input
    feeding: the previous attentional vector is concatenated to each input embedding.
    """

    src_vocab_size: int  # source vocabulary size (including special tokens)
    tgt_vocab_size: int  # target vocabulary size (including special tokens)
    d_model: int = 512  # embedding width, encoder output width, decoder hidden size
    num_encoder_layers: int = 2  # stacked bidirectional LSTM layers
    num_decoder_layers: int = 2  # stacked LSTM cells in the decoder
    dropout: float = 0.1  # on embeddings, between layers and on the attentional vectors
    attention: str = "general"  # Luong score: general (h^T W m) | dot (h^T m)
    max_positions: int = 1024  # longest source the translator feeds (no positional encoding)
    share_embeddings: bool = True  # one embedding table for source and target (joint vocab)
    tie_output: bool = True  # output projection reuses the target embedding matrix
    pad_id: int = 0
    bos_id: int = 2
    eos_id: int = 3

    kind: ClassVar[str] = "lstm"  # recorded in model.json next to the fields

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "d_model"):
            require(getattr(self, name) > 0, name, "must be positive")
        require(self.d_model % 2 == 0, "d_model", "must be even (two encoder directions)")
        for name in ("num_encoder_layers", "num_decoder_layers"):
            require(getattr(self, name) >= 1, name, "must be at least 1")
        require(0.0 <= self.dropout < 1.0, "dropout", "must be in [0, 1)")
        require(
            self.attention in ATTENTION_SCORES, "attention", f"must be one of {ATTENTION_SCORES}"
        )
        check_vocabulary(self)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LSTMConfig:
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown lstm model config field(s): {', '.join(unknown)}")
        return cls(**values)
