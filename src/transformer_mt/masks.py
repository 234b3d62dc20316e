"""The three attention masks of the Transformer, as pure functions.

One convention everywhere: a mask is boolean and ``True`` means "this query may attend to this
key". Masks broadcast to ``(B, H, T, S)`` (batch, heads, query length, key length), which is what
:func:`torch.nn.functional.scaled_dot_product_attention` accepts as ``attn_mask``.

- Encoder self-attention: :func:`encoder_mask` hides source padding.
- Decoder masked self-attention: :func:`decoder_self_mask` hides future tokens (look-ahead) and
  target padding.
- Encoder-decoder (cross) attention: :func:`cross_mask` hides source padding from every target
  position.
"""

from __future__ import annotations

import torch


def padding_mask(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """``True`` where a token is real. ids ``(B, L)`` -> ``(B, L)`` bool."""
    return ids != pad_id


def causal_mask(length: int, device: torch.device | None = None) -> torch.Tensor:
    """Look-ahead mask: position ``i`` may attend to ``j`` iff ``j <= i``. -> ``(L, L)`` bool."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


def encoder_mask(src_ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Encoder self-attention mask: every query sees every real source key. -> ``(B, 1, 1, S)``."""
    return padding_mask(src_ids, pad_id)[:, None, None, :]


def cross_mask(src_ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Cross-attention mask: target queries see real source keys. -> ``(B, 1, 1, S)``.

    It has the same contents as :func:`encoder_mask`; the query axis broadcasts over ``T``.
    """
    return padding_mask(src_ids, pad_id)[:, None, None, :]


def decoder_self_mask(
    tgt_ids: torch.Tensor, pad_id: int, *, real_start: bool = False
) -> torch.Tensor:
    """Decoder self-attention mask: causal AND key is not padding. -> ``(B, 1, T, T)``.

    A padded query row keeps its diagonal so that no row is all ``False`` (an all-masked row
    would give NaN in softmax); outputs at padded positions are ignored by the loss anyway.
    ``real_start``: position 0 holds the decoder's start token, a real key even where it is
    the pad id (MarianMT models start decoding from ``<pad>``).
    """
    length = tgt_ids.shape[1]
    causal = causal_mask(length, tgt_ids.device)  # (T, T)
    real = padding_mask(tgt_ids, pad_id)  # (B, T)
    if real_start:
        real[:, 0] = True
    keys = real[:, None, None, :]  # (B, 1, 1, T)
    diagonal = torch.eye(length, dtype=torch.bool, device=tgt_ids.device)  # (T, T)
    return (causal & keys) | diagonal  # (B, 1, T, T)


def additive(mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A boolean mask as scores to add before the softmax: ``0`` where ``True``, ``-inf``
    where ``False``; same shape. Built once, it saves a masked fill per attention call."""
    bias = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
    return bias.masked_fill_(~mask, float("-inf"))
