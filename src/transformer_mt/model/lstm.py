"""The LSTM baseline: a bidirectional encoder and an attentional decoder with input feeding.

Luong et al. 2015 ("Effective Approaches to Attention-based Neural Machine Translation"), with
the same interface as :class:`~transformer_mt.model.transformer.Transformer` (``encode``,
``decode``, ``forward``, ``start_cache``, ``decode_step``), so that the same trainer, checkpoints
and searches use it unchanged.

Shape letters: B batch, S source length, T target length, D model width, N decoder layers,
V target vocabulary.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from transformer_mt.model.dropout import fast_dropout
from transformer_mt.model.encoder_decoder import EncoderDecoder
from transformer_mt.model.init import initialize
from transformer_mt.model.lstm_cache import LSTMCache
from transformer_mt.model.lstm_config import LSTMConfig


class LSTMSeq2Seq(EncoderDecoder):
    """Attentional LSTM encoder-decoder.

    Each decoder step: ``x = [embedding; previous attentional vector]`` through the stacked LSTM
    cells gives ``h``; attention of ``h`` over the encoder outputs gives a context ``c``; the
    attentional vector ``tanh(W_c [c; h])`` is the step's hidden state (projected to the
    vocabulary) and is fed to the next step. The decoder starts from the encoder's final states.
    """

    def __init__(self, config: LSTMConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.target_embedding = nn.Embedding(config.tgt_vocab_size, d, padding_idx=config.pad_id)
        self.source_embedding = (
            self.target_embedding
            if config.share_embeddings
            else nn.Embedding(config.src_vocab_size, d, padding_idx=config.pad_id)
        )
        self.encoder = nn.LSTM(
            d,
            d // 2,
            num_layers=config.num_encoder_layers,
            batch_first=True,
            bidirectional=True,
            dropout=config.dropout if config.num_encoder_layers > 1 else 0.0,
        )
        self.bridge = nn.Linear(d, d)  # final encoder states -> initial decoder state
        self.decoder_cells = nn.ModuleList(
            nn.LSTMCell(2 * d if index == 0 else d, d) for index in range(config.num_decoder_layers)
        )
        self.attention_key: nn.Module = (
            nn.Linear(d, d, bias=False) if config.attention == "general" else nn.Identity()
        )
        self.combine = nn.Linear(2 * d, d, bias=False)  # [context; h] -> attentional vector
        self.output_projection = nn.Linear(d, config.tgt_vocab_size, bias=False)
        self._init_weights()
        if config.tie_output:
            self.output_projection.weight = self.target_embedding.weight

    def _init_weights(self) -> None:
        initialize(self, "xavier", self.config.d_model)
        for name, parameter in self.named_parameters():
            if name.startswith(("encoder.bias_hh", "decoder_cells")) and "bias_hh" in name:
                with torch.no_grad():  # forget-gate bias 1: remember by default
                    hidden = parameter.shape[0] // 4
                    parameter[hidden : 2 * hidden].fill_(1.0)

    def _dropout(self, x: torch.Tensor) -> torch.Tensor:
        return fast_dropout(x, self.config.dropout, self.training)

    # -- teacher forcing -------------------------------------------------------------------
    def encode(self, src_ids: torch.Tensor) -> torch.Tensor:
        """src_ids ``(B, S)`` -> memory ``(B, S, D)`` (zeros at padding).

        Packed sequences: the backward direction of each row starts at its last real token, so
        padding never changes a real position's output.
        """
        lengths = (src_ids != self.config.pad_id).sum(dim=1).clamp(min=1)  # (B,)
        embedded = self._dropout(self.source_embedding(src_ids))  # (B, S, D)
        packed = pack_padded_sequence(
            embedded, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        outputs, _ = self.encoder(packed)
        memory, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src_ids.shape[1])
        return memory  # (B, S, D)

    def decode(
        self, tgt_in_ids: torch.Tensor, memory: torch.Tensor, src_ids: torch.Tensor
    ) -> torch.Tensor:
        """Attentional vectors for every target position.

        tgt_in_ids ``(B, T)`` (``<s> + y[:-1]``), memory ``(B, S, D)``, src_ids ``(B, S)`` ->
        ``(B, T, D)``. The recurrence runs position by position, exactly as :meth:`decode_step`.
        """
        embedded = self._dropout(self.target_embedding(tgt_in_ids))  # (B, T, D)
        state = self.start_cache(memory, src_ids)
        outputs = []
        for position in range(tgt_in_ids.shape[1]):
            state = self._advance(embedded[:, position], state)
            outputs.append(state.attentional)  # (B, D)
        return self._dropout(torch.stack(outputs, dim=1))  # (B, T, D)

    # -- incremental decoding --------------------------------------------------------------
    def start_cache(
        self, memory: torch.Tensor, src_ids: torch.Tensor, *, beams: int = 1, capacity: int = 0
    ) -> LSTMCache:
        """The decoder's initial state for this source batch; attention keys projected once.

        memory ``(A, S, D)`` and src_ids ``(A, S)`` have one row per sentence; decoding runs
        ``beams`` consecutive rows per sentence. ``capacity`` (steps to preallocate, for the
        Transformer's growing cache) does not apply: the recurrent state has a fixed size.
        """
        del capacity  # the search's contract; an LSTM state does not grow
        source_mask = src_ids != self.config.pad_id  # (A, S)
        batch, _, d = memory.shape
        lengths = source_mask.sum(dim=1).clamp(min=1)  # (A,)
        rows = torch.arange(batch, device=memory.device)
        forward_final = memory[rows, lengths - 1, : d // 2]  # (A, D/2) at the last real token
        backward_final = memory[:, 0, d // 2 :]  # (A, D/2) the backward pass ends at 0
        initial = torch.tanh(self.bridge(torch.cat([forward_final, backward_final], dim=-1)))
        layers = self.config.num_decoder_layers
        hidden = initial[None].expand(layers, batch, d).contiguous()  # (N, A, D)
        cache = LSTMCache(
            hidden=hidden,
            cell=torch.zeros_like(hidden),  # (N, A, D)
            attentional=torch.zeros_like(initial),  # (A, D)
            memory=memory,
            keys=self.attention_key(memory),  # (A, S, D)
            source_mask=source_mask,
        )
        return cache if beams == 1 else cache.select(rows.repeat_interleave(beams))  # (A*N, ..)

    def decode_step(self, tokens: torch.Tensor, cache: LSTMCache) -> tuple[torch.Tensor, LSTMCache]:
        """The newest token of each row ``(B,)`` -> next-token logits ``(B, V)``.

        Equivalent to running :meth:`decode` on the whole prefix and keeping the last position.
        """
        embedded = self._dropout(self.target_embedding(tokens))  # (B, D)
        cache = self._advance(embedded, cache)
        return self.project(self._dropout(cache.attentional)), cache  # (B, V)

    def _advance(self, embedded: torch.Tensor, state: LSTMCache) -> LSTMCache:
        """One decoder step from the embedded input ``(B, D)``; returns the next state."""
        x = torch.cat([embedded, state.attentional.to(embedded.dtype)], dim=-1)  # (B, 2D)
        hidden, cell = [], []
        for index, layer in enumerate(self.decoder_cells):
            h, c = layer(x, (state.hidden[index], state.cell[index]))  # (B, D) each
            hidden.append(h)
            cell.append(c)
            x = self._dropout(h) if index + 1 < len(self.decoder_cells) else h
        scores = torch.bmm(state.keys, x[:, :, None])[:, :, 0]  # (B, S)
        scores = scores.float().masked_fill(~state.source_mask, float("-inf"))
        probs = scores.softmax(dim=-1).to(state.memory.dtype)  # (B, S)
        context = torch.bmm(probs[:, None, :], state.memory)[:, 0]  # (B, D)
        attentional = torch.tanh(self.combine(torch.cat([context.to(x.dtype), x], dim=-1)))
        return replace(
            state,
            hidden=torch.stack(hidden),  # (N, B, D)
            cell=torch.stack(cell),  # (N, B, D)
            attentional=attentional,  # (B, D)
            length=state.length + 1,
        )
