"""Multi-head attention.

Shape letters: B batch, T query length, S key length, D model width (E), H heads,
K head width (d = E / h).

Attention runs on :func:`torch.nn.functional.scaled_dot_product_attention` (fused kernels);
``need_weights=True`` takes an explicit path that also returns the attention probabilities,
for inspection. Both paths compute the same function.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812 (the conventional alias)
from torch import nn


def attend(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None,
    *,
    dropout: float = 0.0,
    need_weights: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Scaled dot-product attention over heads: ``softmax(Q K^T / sqrt(d)) V``.

    query ``(B, H, T, K)``, key/value ``(B, H, S, K)``, mask broadcastable to
    ``(B, H, T, S)``: bool (``True`` = may attend) or float, added to the scores (0 or ``-inf``,
    :func:`transformer_mt.masks.additive`) -> context ``(B, H, T, K)`` and, when asked,
    the probabilities ``(B, H, T, S)``.
    """
    if need_weights:
        return explicit_attention(query, key, value, mask, dropout=dropout)
    if mask is not None and mask.is_floating_point() and mask.dtype != query.dtype:
        mask = mask.to(query.dtype)  # the fused kernel takes additive masks in its dtype
    context = F.scaled_dot_product_attention(query, key, value, attn_mask=mask, dropout_p=dropout)
    return context, None


def explicit_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None,
    *,
    dropout: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`attend` written out (matmul, mask, softmax, matmul), returning the probabilities
    ``(B, H, T, S)`` next to the context ``(B, H, T, K)``."""
    scaled = query * (1.0 / math.sqrt(query.shape[-1]))  # (B, H, T, K)
    scores = scaled @ key.transpose(-2, -1)  # (B, H, T, S)
    if mask is not None and mask.dtype == torch.bool:
        scores = scores.masked_fill_(~mask, float("-inf"))
    elif mask is not None:  # additive
        scores = torch.add(scores, mask)  # in the wider of the two dtypes
    # The softmax in at least fp32: bf16 probabilities would lose precision.
    inner = torch.promote_types(scores.dtype, torch.float32)
    weights = scores.softmax(dim=-1, dtype=inner).to(value.dtype)  # (B, H, T, S)
    dropped = F.dropout(weights, p=dropout) if dropout > 0 else weights
    return dropped @ value, weights  # (B, H, T, K), (B, H, T, S)


class MultiHeadAttention(nn.Module):
    """h heads of width d = E / h, each with its own Q/K/V projections, concatenated and mixed.

    The per-head projections are stored as one ``(E, E)`` matrix each for Q, K and V (head ``i``
    owns rows ``i*d:(i+1)*d``), which is the same as h separate ``(E, d)`` projections.
    """

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if d_model % num_heads != 0:
            raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, L, D)`` -> ``(B, H, L, K)``."""
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def project_self(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Q, K and V of one sequence ``(B, L, D)`` -> three ``(B, H, L, K)``."""
        return self.split_heads(self.q_proj(x)), *self.project_keys_values(x)

    def project_keys_values(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """K and V of a key sequence ``(B, S, D)`` -> two ``(B, H, S, K)``."""
        return self.split_heads(self.k_proj(memory)), self.split_heads(self.v_proj(memory))

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None,
        *,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """query ``(B, T, D)``, key/value ``(B, S, D)`` -> ``(B, T, D)`` and optional weights."""
        if query is key and key is value:
            queries, keys, values = self.project_self(query)  # (B, H, T, K) each
            return self.attend_heads(queries, keys, values, mask, need_weights=need_weights)
        keys = self.split_heads(self.k_proj(key))  # (B, H, S, K)
        values = self.split_heads(self.v_proj(value))  # (B, H, S, K)
        return self.attend_projected(query, keys, values, mask, need_weights=need_weights)

    def attend_projected(
        self,
        query: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        mask: torch.Tensor | None,
        *,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attention with already projected ``keys``/``values`` ``(B, H, S, K)`` (cached K/V)."""
        queries = self.split_heads(self.q_proj(query))  # (B, H, T, K)
        return self.attend_heads(queries, keys, values, mask, need_weights=need_weights)

    def attend_heads(
        self,
        queries: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        mask: torch.Tensor | None,
        *,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Projected queries ``(B, H, T, K)`` and keys/values ``(B, H, S, K)`` -> the mixed
        heads ``(B, T, D)`` and optional weights ``(B, H, T, S)``."""
        batch, _, length, _ = queries.shape
        dropout = self.dropout if self.training else 0.0
        context, weights = attend(
            queries, keys, values, mask, dropout=dropout, need_weights=need_weights
        )  # (B, H, T, K)
        merged = context.transpose(1, 2).reshape(batch, length, self.num_heads * self.head_dim)
        return self.out_proj(merged), weights
