"""The Transformer model: configuration, layers, and the encoder-decoder."""

from transformer_mt.model.cache import DecoderCache, LayerCache
from transformer_mt.model.config import TransformerConfig
from transformer_mt.model.transformer import Transformer

__all__ = ["DecoderCache", "LayerCache", "Transformer", "TransformerConfig"]
