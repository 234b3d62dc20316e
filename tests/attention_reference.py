"""Shared by the attention tests: small inputs and attention written out by hand in float64."""

from __future__ import annotations

import math

import torch

B, H, T, S, K = 2, 2, 3, 4, 8  # batch, heads, query length, key length, head width
D = H * K


def qkv(dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    query = torch.randn(B, H, T, K, generator=generator, dtype=dtype)
    key = torch.randn(B, H, S, K, generator=generator, dtype=dtype)
    value = torch.randn(B, H, S, K, generator=generator, dtype=dtype)
    return query, key, value


def key_padding() -> torch.Tensor:
    """Sentence 0 has 4 real keys, sentence 1 has 2. ``(B, 1, 1, S)``."""
    return torch.tensor([[True, True, True, True], [True, True, False, False]])[:, None, None, :]


def softmax_reference(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(Q K^T / sqrt(d)) V with masked scores removed, written with explicit exps."""
    scores = torch.einsum("bhtk,bhsk->bhts", query, key) / math.sqrt(query.shape[-1])
    exps = scores.exp()
    if mask is not None:
        exps = exps * mask
    weights = exps / exps.sum(dim=-1, keepdim=True)
    return torch.einsum("bhts,bhsk->bhtk", weights, value), weights
