"""Encoder and decoder layers: attention and feed-forward sub-layers with residual + LayerNorm.

Shape letters: B batch, S source length, T target length, D model width, F feed-forward width;
in cached steps A sentences, N beams per sentence, R = A * N rows, L tokens so far, H heads,
K head width.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F  # noqa: N812 (the conventional alias)
from torch import nn

from transformer_mt.model.attention import MultiHeadAttention
from transformer_mt.model.cache import LayerCache, group_beams
from transformer_mt.model.config import TransformerConfig
from transformer_mt.model.dropout import Dropout

# swish and silu are two names of x * sigmoid(x) (MarianMT's OPUS-MT models say swish).
_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "gelu": F.gelu,
    "swish": F.silu,
    "silu": F.silu,
}


class FeedForward(nn.Module):
    """Position-wise feed-forward: linear, activation, dropout, linear. ``(.., D) -> (.., D)``."""

    def __init__(self, d_model: int, d_ff: int, activation: str, dropout: float) -> None:
        super().__init__()
        self.expand = nn.Linear(d_model, d_ff)
        # A function, not a module: one module call less per layer and decoding step.
        self.activation: Callable[[torch.Tensor], torch.Tensor] = _ACTIVATIONS[activation]
        self.dropout = Dropout(dropout)
        self.contract = nn.Linear(d_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.activation(self.expand(x))  # (.., F)
        return self.contract(self.dropout(hidden) if self.training else hidden)  # (.., D)


class Residual(nn.Module):
    """Residual connection with LayerNorm, after the sum (post-norm) or before the sub-layer."""

    def __init__(self, d_model: int, dropout: float, norm_position: str) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.dropout = Dropout(dropout)
        self.pre_norm = norm_position == "pre"

    def forward(
        self, x: torch.Tensor, sublayer: Callable[[torch.Tensor], torch.Tensor]
    ) -> torch.Tensor:
        # Dropout is the identity in eval mode: not even called there (per-step decoding cost).
        if self.pre_norm:
            out = sublayer(self.norm(x))
            return x + (self.dropout(out) if self.training else out)
        out = sublayer(x)
        return self.norm(x + (self.dropout(out) if self.training else out))


AttentionWeights = dict[str, torch.Tensor]


class EncoderLayer(nn.Module):
    """Self-attention over the source (padding mask only), then feed-forward."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        dims = (config.d_model, config.dropout, config.norm_position)
        self.self_attention = MultiHeadAttention(
            config.d_model, config.num_heads, config.attention_dropout
        )
        self.attention_residual = Residual(*dims)
        self.feed_forward = FeedForward(
            config.d_model, config.d_ff, config.activation, config.dropout
        )
        self.feed_forward_residual = Residual(*dims)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, weights: AttentionWeights | None = None
    ) -> torch.Tensor:
        """x ``(B, S, D)``, mask ``(B, 1, 1, S)`` -> ``(B, S, D)``. Fills ``weights`` if given."""

        def self_attend(h: torch.Tensor) -> torch.Tensor:
            out, probs = self.self_attention(h, h, h, mask, need_weights=weights is not None)
            if weights is not None and probs is not None:
                weights["self"] = probs  # (B, H, S, S)
            return out

        x = self.attention_residual(x, self_attend)
        return self.feed_forward_residual(x, self.feed_forward)


class DecoderLayer(nn.Module):
    """Masked self-attention, cross-attention (Q from decoder, K/V from memory), feed-forward."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        dims = (config.d_model, config.dropout, config.norm_position)
        heads = (config.d_model, config.num_heads, config.attention_dropout)
        self.self_attention = MultiHeadAttention(*heads)
        self.self_attention_residual = Residual(*dims)
        self.cross_attention = MultiHeadAttention(*heads)
        self.cross_attention_residual = Residual(*dims)
        self.feed_forward = FeedForward(
            config.d_model, config.d_ff, config.activation, config.dropout
        )
        self.feed_forward_residual = Residual(*dims)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        self_mask: torch.Tensor,
        memory_mask: torch.Tensor,
        weights: AttentionWeights | None = None,
    ) -> torch.Tensor:
        """x ``(B, T, D)``, memory ``(B, S, D)``, self_mask ``(B, 1, T, T)``,
        memory_mask ``(B, 1, 1, S)`` -> ``(B, T, D)``."""
        need = weights is not None

        def self_attend(h: torch.Tensor) -> torch.Tensor:
            out, probs = self.self_attention(h, h, h, self_mask, need_weights=need)
            if weights is not None and probs is not None:
                weights["self"] = probs  # (B, H, T, T)
            return out

        def cross_attend(h: torch.Tensor) -> torch.Tensor:
            out, probs = self.cross_attention(h, memory, memory, memory_mask, need_weights=need)
            if weights is not None and probs is not None:
                weights["cross"] = probs  # (B, H, T, S)
            return out

        x = self.self_attention_residual(x, self_attend)
        x = self.cross_attention_residual(x, cross_attend)
        return self.feed_forward_residual(x, self.feed_forward)

    def start_cache(self, memory: torch.Tensor, capacity: int = 0) -> LayerCache:
        """Project the encoder memory ``(A, S, D)`` to cross-attention K/V once per source."""
        keys, values = self.cross_attention.project_keys_values(memory)  # (A, H, S, K) each
        # Contiguous once here, or every step's attention would copy these head-split views.
        return LayerCache(
            cross_keys=keys.contiguous(), cross_values=values.contiguous(), capacity=capacity
        )

    def step(
        self,
        x: torch.Tensor,
        cache: LayerCache,
        memory_mask: torch.Tensor | None,
        history_mask: torch.Tensor | None,
        position: int,
    ) -> torch.Tensor:
        """One new position: x ``(R, 1, D)`` -> ``(R, 1, D)``; stores its K/V in ``cache``.

        ``R = A * N`` rows, the ``N`` beams of each of ``A`` sentences; memory_mask
        ``(A, 1, 1, S)`` (None: no padding); history_mask ``(A, 1, N, (L+1) * N)``, bool or
        additive (see :func:`~transformer_mt.model.attention.attend`), the cached slots each
        beam attends to (None: all, as with one beam).
        """

        def self_attend(h: torch.Tensor) -> torch.Tensor:
            queries, new_keys, new_values = self.self_attention.project_self(h)  # (R, H, 1, K)
            keys, values = cache.append(new_keys, new_values, position)  # (A, H, (L+1)N, K)
            grouped = group_beams(queries, keys.shape[0])  # (A, H, N, K)
            out, _ = self.self_attention.attend_heads(grouped, keys, values, history_mask)
            return out.reshape(h.shape)  # (R, 1, D)

        def cross_attend(h: torch.Tensor) -> torch.Tensor:
            out, _ = self.cross_attention.attend_projected(
                _by_sentence(h, cache), cache.cross_keys, cache.cross_values, memory_mask
            )  # (A, N, D)
            return out.reshape(h.shape)  # (R, 1, D)

        x = self.self_attention_residual(x, self_attend)
        x = self.cross_attention_residual(x, cross_attend)
        return self.feed_forward_residual(x, self.feed_forward)


def _by_sentence(h: torch.Tensor, cache: LayerCache) -> torch.Tensor:
    """A sentence's beams become query positions of one row: ``(R, 1, D)`` -> ``(A, N, D)``,
    so they share the sentence's keys and values instead of copying them."""
    return h.reshape(cache.cross_keys.shape[0], -1, h.shape[-1])
