"""The Transformer for inference: a transposed output copy for one-row steps, a bf16 cache.

Shape letters: A sentences, N beams, S source length, D model width, V target vocabulary.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn

from transformer_mt.inference.length_groups import encode_in_groups
from transformer_mt.inference.shortlist import Shortlist
from transformer_mt.model.cache import DecoderCache
from transformer_mt.model.layers import AttentionWeights
from transformer_mt.model.transformer import Transformer

# Rows up to which an fp32 step multiplies by a transposed copy of the output weight:
# ``(R, D) @ (D, V)`` streams a large vocabulary matrix faster than ``F.linear``'s ``(V, D)``
# layout at 1-4 rows; at more rows the two are level, and in bf16 ``F.linear`` is faster.
# Inference layers declare their own limit (``transposed_copy_rows``; int8: never).
FEW_ROWS = 4

# Rows x model width from which a low-precision cache pays: attention then mostly reads cached
# keys and values from memory, and bf16 halves that (int8 models: 32 sentences x beam 4 at
# d 256 or more; not greedy at d 256, where it is slower).
LOW_PRECISION_CACHE_SIZE = 32 * 512


class InferenceTransformer(Transformer):
    """:class:`Transformer` with two inference-only changes (same weights, same outputs up to
    summation order). Made from a trained model by :meth:`convert`."""

    cache_dtype: torch.dtype | None = None  # dtype of large caches' keys and values
    # The whole decoder step as one native call (int8 models where it is built), else None.
    native_step: Any = None
    # Restricts each batch's outputs to its source tokens' candidates (None: every token).
    shortlist: Shortlist | None = None
    # Encode a padded batch in groups of similar length (:mod:`.length_groups`): the same
    # encodings up to float summation order in attention, on fewer padding positions.
    grouped_encoder: bool = False
    _transposed: tuple[int, int, torch.Tensor] | None = None  # (data_ptr, version, (D, V))

    @classmethod
    def convert(
        cls, model: Transformer, cache_dtype: torch.dtype | None = None
    ) -> InferenceTransformer:
        """The same model (changed in place) with this class's behaviour."""
        model.__class__ = cls
        inference = cast(InferenceTransformer, model)  # its class is now this one
        inference.cache_dtype = cache_dtype
        return inference

    def encode(
        self, src_ids: torch.Tensor, weights: list[AttentionWeights] | None = None
    ) -> torch.Tensor:
        """As :meth:`Transformer.encode`; with ``grouped_encoder`` (and no attention weights
        asked for) in groups of similar length, zeros at padding positions."""
        if not self.grouped_encoder or weights is not None:
            return super().encode(src_ids, weights)
        return encode_in_groups(super().encode, src_ids, self.config.pad_id)  # (B, S, D)

    def start_cache(
        self, memory: torch.Tensor, src_ids: torch.Tensor, *, beams: int = 1, capacity: int = 0
    ) -> DecoderCache:
        """As :meth:`Transformer.start_cache`; large batches cache keys and values in
        ``cache_dtype`` (the self-attention cache follows the cross-attention one's dtype)."""
        cache = super().start_cache(memory, src_ids, beams=beams, capacity=capacity)
        large = memory.shape[0] * beams * self.config.d_model >= LOW_PRECISION_CACHE_SIZE
        if self.cache_dtype is not None and large:
            for layer in cache.layers:
                layer.cross_keys = layer.cross_keys.to(self.cache_dtype)
                layer.cross_values = layer.cross_values.to(self.cache_dtype)
        if self.shortlist is not None:
            cache.vocabulary = self.shortlist.candidates(src_ids)  # (A, W)
        return cache

    def decode_step(
        self, tokens: torch.Tensor, cache: DecoderCache
    ) -> tuple[torch.Tensor, DecoderCache]:
        """As :meth:`Transformer.decode_step`, by the native step when the model has one."""
        if self.native_step is None:
            logits, cache = super().decode_step(tokens, cache)
            return _restricted(logits, cache.vocabulary, cache.beams), cache
        return self.native_step(tokens, cache), cache

    def step_log_probs(
        self, tokens: torch.Tensor, cache: DecoderCache
    ) -> tuple[torch.Tensor, DecoderCache]:
        """:meth:`decode_step` followed by the log-softmax ``(R, V)`` in fp32 (in the native
        step's same call where it has one)."""
        if self.native_step is None:
            logits, cache = self.decode_step(tokens, cache)
            return logits.float().log_softmax(dim=-1), cache
        return self.native_step(tokens, cache, log_probs=True), cache

    def project(self, hidden: torch.Tensor) -> torch.Tensor:
        """Logits ``(.., V)``; a few fp32 rows on the CPU through the transposed copy."""
        linear = self.output_projection
        if (
            self.training
            or torch.is_grad_enabled()  # the copy is for decoding, never for backward
            or hidden.dtype != torch.float32
            or hidden.device.type != "cpu"
            or hidden.numel() > _transposed_copy_rows(linear) * hidden.shape[-1]
        ):
            return linear(hidden)
        logits = hidden @ self._transposed_weight(linear.weight)  # (.., V)
        return logits if linear.bias is None else logits + linear.bias

    def _transposed_weight(self, weight: torch.Tensor) -> torch.Tensor:
        """``weight.T`` as a contiguous ``(D, V)`` copy, made again whenever the weight changes
        (a load bumps its version)."""
        key = (weight.data_ptr(), weight._version)
        if self._transposed is None or self._transposed[:2] != key:
            self._transposed = (*key, weight.detach().t().contiguous())
        return self._transposed[2]


def _restricted(logits: torch.Tensor, vocabulary: torch.Tensor | None, beams: int) -> torch.Tensor:
    """``logits (R, V)`` with ``-inf`` outside each sentence's ``vocabulary (A, W)`` (-1
    padded; rows ``a * beams ..`` are sentence ``a``'s), all kept when None."""
    if vocabulary is None:
        return logits
    sentences = vocabulary.shape[0]
    outside = torch.ones(sentences, logits.shape[-1] + 1, dtype=torch.bool, device=logits.device)
    outside.scatter_(1, vocabulary % (logits.shape[-1] + 1), False)  # -1 -> the extra column
    rows = outside[:, :-1].repeat_interleave(beams, dim=0)  # (R, V)
    return logits.masked_fill(rows, float("-inf"))


def _transposed_copy_rows(linear: nn.Module) -> int:
    """Rows up to which the transposed copy beats ``linear``'s own product: FEW_ROWS for a plain
    layer, what an inference layer declares (``transposed_copy_rows``), else 0 (e.g. int8)."""
    return getattr(linear, "transposed_copy_rows", FEW_ROWS if type(linear) is nn.Linear else 0)
