"""Logit processors for sampling: pure ``(N, V) -> (N, V)`` functions on log-probabilities.

Removed tokens get ``-inf``; the result is renormalised by the caller's softmax/sampling.
"""

from __future__ import annotations

import torch


def apply_temperature(scores: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide by ``temperature`` (<1 sharpens, >1 flattens). ``(N, V) -> (N, V)``.

    Each row's best score is subtracted first, so it stays 0 and a tiny temperature drives the
    others to ``-inf`` (all mass on the best token, the T -> 0 limit) instead of ``inf - inf =
    nan``; temperatures below the dtype's smallest normal number are treated as that number.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    temperature = max(temperature, torch.finfo(scores.dtype).tiny)
    return (scores - scores.amax(dim=-1, keepdim=True)) / temperature  # (N, V)


def top_k_filter(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` highest scores of each row (``k <= 0`` keeps all). ``(N, V) -> (N, V)``."""
    if k <= 0 or k >= scores.shape[-1]:
        return scores
    kth = scores.topk(k, dim=-1).values[..., -1:]  # (N, 1)
    return scores.masked_fill(scores < kth, float("-inf"))


def top_p_filter(scores: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filter: keep the smallest set of top tokens whose probability reaches ``p``.

    The most likely token is always kept. ``p >= 1`` keeps all. ``(N, V) -> (N, V)``.
    """
    if p >= 1.0:
        return scores
    if p <= 0.0:
        raise ValueError(f"top_p must be in (0, 1], got {p}")
    sorted_scores, order = scores.sort(dim=-1, descending=True)  # (N, V)
    cumulative = sorted_scores.softmax(dim=-1).cumsum(dim=-1)  # (N, V)
    # Remove a token when the mass *before* it already reaches p.
    remove_sorted = (cumulative - sorted_scores.softmax(dim=-1)) >= p  # (N, V)
    remove = remove_sorted.scatter(-1, order, remove_sorted)  # back to vocabulary order
    return scores.masked_fill(remove, float("-inf"))
