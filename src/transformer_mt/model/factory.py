"""Build the model a configuration describes, and read/write configurations with their kind.

``model.json`` records ``"kind"`` (``transformer`` or ``lstm``) next to the architecture's
fields; a file without it (written before the LSTM existed) is a Transformer.
"""

from __future__ import annotations

from typing import Any

from transformer_mt.model.config import TransformerConfig
from transformer_mt.model.lstm import LSTMSeq2Seq
from transformer_mt.model.lstm_config import LSTMConfig
from transformer_mt.model.transformer import Transformer

ArchitectureConfig = TransformerConfig | LSTMConfig
Model = Transformer | LSTMSeq2Seq
MODEL_KINDS: dict[str, type[TransformerConfig] | type[LSTMConfig]] = {
    TransformerConfig.kind: TransformerConfig,
    LSTMConfig.kind: LSTMConfig,
}


def build_model(config: ArchitectureConfig) -> Model:
    """A freshly initialised model for ``config`` (the global torch seed decides the weights)."""
    if isinstance(config, LSTMConfig):
        return LSTMSeq2Seq(config)
    return Transformer(config)


def config_to_dict(config: ArchitectureConfig) -> dict[str, Any]:
    """The config's fields plus its ``kind``, as saved in ``model.json``."""
    return {"kind": config.kind, **config.to_dict()}


def config_from_dict(values: dict[str, Any]) -> ArchitectureConfig:
    """Inverse of :func:`config_to_dict`; raises ``ValueError`` for an unknown kind or field."""
    fields = dict(values)
    kind = fields.pop("kind", TransformerConfig.kind)
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; known: {', '.join(MODEL_KINDS)}")
    return MODEL_KINDS[kind].from_dict(fields)


def parameter_count(model: Model) -> int:
    """Trainable parameters, a tied embedding/projection matrix counted once."""
    return sum(parameter.numel() for parameter in model.parameters())
