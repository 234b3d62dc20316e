"""The model's hyper-parameters: a frozen, validated dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

ACTIVATIONS = ("relu", "gelu", "swish", "silu")  # swish and silu: the same x * sigmoid(x)
NORM_POSITIONS = ("post", "pre")
POSITIONAL_ENCODINGS = ("sinusoidal", "learned")
INITS = ("auto", "normal", "xavier")  # see transformer_mt.model.init


@dataclass(frozen=True)
class TransformerConfig:
    """Architecture of an encoder-decoder Transformer.

    The defaults are Transformer-base (Vaswani et al. 2017) apart from the vocabulary sizes.
    """

    src_vocab_size: int  # source vocabulary size (including special tokens)
    tgt_vocab_size: int  # target vocabulary size (including special tokens)
    d_model: int = 512  # E: width of every token representation
    num_heads: int = 8  # h: attention heads; each head has d = d_model / num_heads dimensions
    num_encoder_layers: int = 6  # N encoder layers
    num_decoder_layers: int = 6  # N decoder layers
    d_ff: int = 2048  # inner width of the position-wise feed-forward network
    dropout: float = 0.1  # on embeddings, sub-layer outputs and inside the feed-forward
    attention_dropout: float = 0.0  # on attention probabilities
    activation: str = "relu"  # feed-forward non-linearity: relu | gelu | swish (= silu)
    norm_position: str = "post"  # LayerNorm after the residual (post, as in the paper) or before
    positional_encoding: str = "sinusoidal"  # sinusoidal (fixed) | learned
    max_positions: int = 1024  # longest sequence the positional encoding covers
    share_embeddings: bool = True  # one embedding table for source and target (joint vocab)
    tie_output: bool = True  # output projection reuses the target embedding matrix
    init: str = "auto"  # N(0, init_std) (normal) | Xavier-uniform (xavier) | auto: by norm_position
    init_std: float = 0.02  # standard deviation of the normal initialisation
    scale_embedding: bool = True  # token embeddings x sqrt(d_model) (MarianMT: scale_embedding)
    output_bias: bool = False  # a bias on the output layer (MarianMT's final_logits_bias)
    pad_id: int = 0
    bos_id: int = 2  # the decoder's start token; may be pad_id (MarianMT starts from <pad>)
    eos_id: int = 3

    kind: ClassVar[str] = "transformer"  # recorded in model.json next to the fields

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "d_model", "num_heads", "d_ff"):
            require(getattr(self, name) > 0, name, "must be positive")
        for name in ("num_encoder_layers", "num_decoder_layers"):
            require(getattr(self, name) >= 1, name, "must be at least 1")
        if self.d_model % self.num_heads != 0:
            raise ValueError(
                f"d_model={self.d_model} is not divisible by num_heads={self.num_heads}: "
                "each head needs d = d_model / num_heads dimensions"
            )
        for name in ("dropout", "attention_dropout"):
            require(0.0 <= getattr(self, name) < 1.0, name, "must be in [0, 1)")
        require(self.activation in ACTIVATIONS, "activation", f"must be one of {ACTIVATIONS}")
        require(
            self.norm_position in NORM_POSITIONS,
            "norm_position",
            f"must be one of {NORM_POSITIONS}",
        )
        require(
            self.positional_encoding in POSITIONAL_ENCODINGS,
            "positional_encoding",
            f"must be one of {POSITIONAL_ENCODINGS}",
        )
        require(self.init in INITS, "init", f"must be one of {INITS}")
        require(self.init_std > 0.0, "init_std", "must be positive")
        for name in ("scale_embedding", "output_bias"):
            require(isinstance(getattr(self, name), bool), name, "must be true or false")
        check_vocabulary(self)

    @property
    def head_dim(self) -> int:
        """d = E / h, the width of one attention head."""
        return self.d_model // self.num_heads

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TransformerConfig:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown model config field(s): {', '.join(unknown)}")
        return cls(**values)


def check_vocabulary(config: Any) -> None:
    """Checks every architecture config shares: positions, embedding sharing, special ids."""
    require(config.max_positions >= 2, "max_positions", "must be at least 2")
    if config.share_embeddings and config.src_vocab_size != config.tgt_vocab_size:
        raise ValueError(
            "share_embeddings=True needs src_vocab_size == tgt_vocab_size "
            f"(got {config.src_vocab_size} and {config.tgt_vocab_size})"
        )
    ids = {"pad_id": config.pad_id, "bos_id": config.bos_id, "eos_id": config.eos_id}
    for name, value in ids.items():
        require(0 <= value < config.tgt_vocab_size, name, "must be a valid target token id")
    # The start token may be the padding token (MarianMT), never the end token.
    require(
        config.eos_id not in (config.pad_id, config.bos_id),
        "pad_id/bos_id/eos_id",
        "must be distinct (only bos_id, the start token, may equal pad_id as in MarianMT)",
    )


def require(condition: bool, field: str, message: str) -> None:
    """A one-line ``ValueError`` naming ``field`` unless ``condition`` holds."""
    if not condition:
        raise ValueError(f"{field} {message}")
