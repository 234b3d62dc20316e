"""The models: the Transformer, the LSTM baseline, their configurations and decoder caches."""

from transformer_mt.model.cache import DecoderCache, LayerCache
from transformer_mt.model.config import TransformerConfig
from transformer_mt.model.factory import build_model
from transformer_mt.model.lstm import LSTMSeq2Seq
from transformer_mt.model.lstm_cache import LSTMCache
from transformer_mt.model.lstm_config import LSTMConfig
from transformer_mt.model.transformer import Transformer

__all__ = [
    "DecoderCache",
    "LSTMCache",
    "LSTMConfig",
    "LSTMSeq2Seq",
    "LayerCache",
    "Transformer",
    "TransformerConfig",
    "build_model",
]
