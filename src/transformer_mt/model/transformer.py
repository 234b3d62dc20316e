"""The encoder-decoder Transformer: ``encode``, ``decode``, ``forward`` and cached ``decode_step``.

Shape letters: B batch, S source length, T target length, D model width, V target vocabulary.
"""

from __future__ import annotations

import torch
from torch import nn

from transformer_mt import masks
from transformer_mt.model.cache import DecoderCache
from transformer_mt.model.config import TransformerConfig
from transformer_mt.model.embedding import Embedder, PositionalEncoding
from transformer_mt.model.encoder_decoder import EncoderDecoder
from transformer_mt.model.init import initialize, resolve
from transformer_mt.model.layers import AttentionWeights, DecoderLayer, EncoderLayer


class Transformer(EncoderDecoder):
    """Encoder-decoder Transformer for translation (Vaswani et al. 2017).

    ``forward(src_ids, tgt_in_ids)`` runs teacher forcing: all target positions in one pass.
    Inference calls :meth:`encode` once, :meth:`start_cache`, then :meth:`decode_step` per token.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        target_tokens = nn.Embedding(config.tgt_vocab_size, d, padding_idx=config.pad_id)
        source_tokens = (
            target_tokens
            if config.share_embeddings
            else nn.Embedding(config.src_vocab_size, d, padding_idx=config.pad_id)
        )

        def positions() -> PositionalEncoding:
            return PositionalEncoding(config.positional_encoding, config.max_positions, d)

        scaled = config.scale_embedding
        self.source_embedder = Embedder(source_tokens, positions(), config.dropout, scaled=scaled)
        self.target_embedder = Embedder(target_tokens, positions(), config.dropout, scaled=scaled)
        self.encoder_layers = nn.ModuleList(
            EncoderLayer(config) for _ in range(config.num_encoder_layers)
        )
        self.decoder_layers = nn.ModuleList(
            DecoderLayer(config) for _ in range(config.num_decoder_layers)
        )
        pre_norm = config.norm_position == "pre"
        # Pre-norm stacks end with a LayerNorm; post-norm outputs are already normalised.
        self.encoder_norm: nn.Module = nn.LayerNorm(d) if pre_norm else nn.Identity()
        self.decoder_norm: nn.Module = nn.LayerNorm(d) if pre_norm else nn.Identity()
        # MarianMT adds a bias to the logits (final_logits_bias); our own models have none.
        self.output_projection = nn.Linear(d, config.tgt_vocab_size, bias=config.output_bias)
        initialize(self, resolve(config.init, config.norm_position), d, config.init_std)
        if config.tie_output:
            self.output_projection.weight = target_tokens.weight

    # -- teacher forcing -------------------------------------------------------------------
    def encode(
        self, src_ids: torch.Tensor, weights: list[AttentionWeights] | None = None
    ) -> torch.Tensor:
        """src_ids ``(B, S)`` -> memory ``(B, S, D)``.

        If ``weights`` is a list, it receives one dict per layer with ``"self"`` ``(B, H, S, S)``.
        """
        mask = masks.encoder_mask(src_ids, self.config.pad_id)  # (B, 1, 1, S)
        x = self.source_embedder(src_ids)  # (B, S, D)
        for layer in self.encoder_layers:
            layer_weights = _new_slot(weights)
            x = layer(x, mask, layer_weights)  # (B, S, D)
        return self.encoder_norm(x)

    def decode(
        self,
        tgt_in_ids: torch.Tensor,
        memory: torch.Tensor,
        src_ids: torch.Tensor,
        weights: list[AttentionWeights] | None = None,
    ) -> torch.Tensor:
        """Decoder hidden states for all positions at once.

        tgt_in_ids ``(B, T)`` (``<s> + y[:-1]``), memory ``(B, S, D)``, src_ids ``(B, S)`` (for
        the cross-attention padding mask) -> ``(B, T, D)``. ``weights`` as in :meth:`encode`,
        with ``"self"`` ``(B, H, T, T)`` and ``"cross"`` ``(B, H, T, S)``.
        """
        # Position 0 is the start token, real even where it is <pad> (MarianMT's start).
        self_mask = masks.decoder_self_mask(
            tgt_in_ids, self.config.pad_id, real_start=True
        )  # (B, 1, T, T)
        memory_mask = masks.cross_mask(src_ids, self.config.pad_id)  # (B, 1, 1, S)
        x = self.target_embedder(tgt_in_ids)  # (B, T, D)
        for layer in self.decoder_layers:
            x = layer(x, memory, self_mask, memory_mask, _new_slot(weights))  # (B, T, D)
        return self.decoder_norm(x)

    # -- incremental decoding --------------------------------------------------------------
    def start_cache(
        self, memory: torch.Tensor, src_ids: torch.Tensor, *, beams: int = 1, capacity: int = 0
    ) -> DecoderCache:
        """Compute every layer's cross-attention K/V once for this source batch.

        memory ``(A, S, D)`` and src_ids ``(A, S)`` have one row per sentence; decoding then
        runs ``beams`` rows per sentence (consecutive). ``capacity`` preallocates the
        self-attention cache for that many steps (it grows if exceeded).
        """
        source_mask = masks.cross_mask(src_ids, self.config.pad_id)  # (A, 1, 1, S)
        return DecoderCache(
            layers=[layer.start_cache(memory, capacity) for layer in self.decoder_layers],
            source_mask=source_mask,
            padded=not bool(source_mask.all()),
            beams=beams,
        )

    def decode_step(
        self, tokens: torch.Tensor, cache: DecoderCache
    ) -> tuple[torch.Tensor, DecoderCache]:
        """The newest token of each row ``(R,)`` -> next-token logits ``(R, V)``.

        Equivalent to running :meth:`decode` on the whole prefix and keeping the last position.
        """
        x = self.target_embedder(tokens[:, None], offset=cache.length)  # (R, 1, D)
        history = cache.step_mask()  # (A, 1, N, (L+1) * N) or None
        # Added to the scores: one conversion per step instead of a masked fill per layer.
        history_mask = None if history is None else masks.additive(history)
        memory_mask = cache.memory_mask()  # (A, 1, 1, S) or None
        for layer, layer_cache in zip(self.decoder_layers, cache.layers, strict=True):
            x = layer.step(x, layer_cache, memory_mask, history_mask, cache.length)
        cache.length += 1
        return self.project(self.decoder_norm(x))[:, 0], cache  # (R, V)


def _new_slot(weights: list[AttentionWeights] | None) -> AttentionWeights | None:
    if weights is None:
        return None
    slot: AttentionWeights = {}
    weights.append(slot)
    return slot
