"""Attention for decoding on the CPU: fused Q/K/V and an explicit path for many-row steps.

Shape letters: B batch, T query length, S key length, D model width, H heads, K head width.

:class:`FastAttention` is :class:`~transformer_mt.model.attention.MultiHeadAttention` with
three inference-only changes, none of which alters what it computes:

- self-attention's Q, K and V layers fused into one ``(3E, E)`` layer (one call instead of
  three; a quantized call costs about 14 us however small its input);
- cached decoding steps (a few query positions) over many rows take the explicit
  matmul-softmax-matmul, which the CPU runs faster than its fused kernel there;
- keys and values cached in a lower precision (bf16) are attended in theirs.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from transformer_mt.model.attention import MultiHeadAttention, attend, explicit_attention

# The CPU's fused attention kernel handles a few query positions per head badly: at 1-4 query
# positions and at least 64 (batch x heads) rows, the explicit path is faster; below that the
# fused kernel wins. The measurements are in docs/performance.md.
FEW_QUERIES = 4
MANY_HEAD_ROWS = 64


def explicit_is_faster(query: torch.Tensor) -> bool:
    """Whether the explicit path beats the fused kernel for query ``(B, H, T, K)``: cached
    decoding steps (T <= 4) of many rows on the CPU."""
    batch, heads, length, _ = query.shape
    return query.device.type == "cpu" and length <= FEW_QUERIES and batch * heads >= MANY_HEAD_ROWS


def fast_attend(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """Inference attention (no dropout): query ``(B, H, T, K)``, key/value ``(B, H, S, K)``
    in the query's dtype or a lower one (a bf16 cache) -> context ``(B, H, T, K)`` in the
    query's dtype."""
    if key.dtype != query.dtype:  # keys and values cached in a lower precision
        return fast_attend(query.to(key.dtype), key, value, mask).to(query.dtype)
    if not explicit_is_faster(query):
        return attend(query, key, value, mask)[0]
    if query.dtype != torch.float32:
        # Batched bf16 matmuls copy strided operands (a sliced cache) with a slow transposing
        # copy; a plain copy first is faster overall (fp32 ones read strided operands as is).
        key, value = key.contiguous(), value.contiguous()
    return explicit_attention(query, key, value, mask)[0]


class FastAttention(MultiHeadAttention):
    """Multi-head attention for inference. Made from a trained layer by :meth:`convert`."""

    qkv_proj: nn.Module | None  # one (3E, E) layer after fuse_projections(), else None

    @classmethod
    def convert(cls, attention: MultiHeadAttention) -> FastAttention:
        """The same module (same weights, changed in place) with this class's behaviour."""
        if isinstance(attention, cls):
            return attention
        attention.__class__ = cls
        fast = cast(FastAttention, attention)  # its class is now this one
        fast.qkv_proj = None
        return fast

    def fuse_projections(self) -> None:
        """Replace the Q, K and V layers by one ``(3E, E)`` layer computing all three in one
        call (self-attention only, as every input is then the same)."""
        if self.qkv_proj is not None:
            return
        parts = (self.q_proj, self.k_proj, self.v_proj)
        weight = self.q_proj.weight
        # Made on the meta device, then given the three layers' weights: no random
        # initialisation, so converting a model never moves the global random stream.
        fused = nn.Linear(weight.shape[1], 3 * weight.shape[0], device="meta")
        with torch.no_grad():
            fused.weight = nn.Parameter(torch.cat([part.weight for part in parts]))
            fused.bias = nn.Parameter(torch.cat([part.bias for part in parts]))
        self.qkv_proj = fused
        del self.q_proj, self.k_proj, self.v_proj

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None,
        *,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """As :meth:`MultiHeadAttention.forward`; fused layers take self-attention only."""
        if self.qkv_proj is not None and not (query is key and key is value):
            raise ValueError("fused Q/K/V projections serve self-attention only")
        return super().forward(query, key, value, mask, need_weights=need_weights)

    def project_self(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Q, K and V of one sequence ``(B, L, D)`` -> three ``(B, H, L, K)``."""
        if self.qkv_proj is None:
            return super().project_self(x)
        queries, keys, values = self.qkv_proj(x).chunk(3, dim=-1)  # (B, L, D) views
        return self.split_heads(queries), self.split_heads(keys), self.split_heads(values)

    def attend_heads(
        self,
        queries: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        mask: torch.Tensor | None,
        *,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """As :meth:`MultiHeadAttention.attend_heads`, through :func:`fast_attend`."""
        if need_weights or self.training:
            return super().attend_heads(queries, keys, values, mask, need_weights=need_weights)
        batch, _, length, _ = queries.shape
        context = fast_attend(queries, keys, values, mask)  # (B, H, T, K)
        merged = context.transpose(1, 2).reshape(batch, length, self.num_heads * self.head_dim)
        return self.out_proj(merged), None
