"""Autoregressive search: start from ``<s>``, feed back the model's own choice, stop at ``</s>``.

Every strategy implements one contract, :class:`SearchStrategy`: given the model, a padded source
batch ``(B, S)`` and a per-sentence length limit ``(B,)``, return a ranked list of
:class:`Hypothesis` per sentence. Strategies only use the model's ``encode`` / ``start_cache`` /
``decode_step`` interface and never reach into its layers.

Shape letters: B sentences, A sentences still decoding, V target vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch

from transformer_mt.config.decoding import DecodingOptions
from transformer_mt.decoding.controls import OutputControls
from transformer_mt.decoding.guards import NO_GUARD, RepetitionGuard
from transformer_mt.decoding.hypothesis import Hypothesis, length_normalised
from transformer_mt.decoding.prefix import keep_only, prefix_tokens, token_mask
from transformer_mt.decoding.processors import (
    apply_temperature,
    top_k_filter,
    top_p_filter,
)
from transformer_mt.decoding.topk import argmax
from transformer_mt.model.cache import DecoderCache
from transformer_mt.model.config import TransformerConfig


class StepModel(Protocol):
    """What a search needs from a model (``Transformer`` satisfies it). A model may also offer
    ``step_log_probs(tokens, cache)``: ``decode_step`` with the log-softmax ``(A, V)`` already
    taken, in fp32 and in a new tensor (the inference model does, in one native call)."""

    config: TransformerConfig

    def encode(self, src_ids: torch.Tensor) -> torch.Tensor: ...

    def start_cache(
        self, memory: torch.Tensor, src_ids: torch.Tensor, *, beams: int = 1, capacity: int = 0
    ) -> DecoderCache: ...

    def decode_step(
        self, tokens: torch.Tensor, cache: DecoderCache
    ) -> tuple[torch.Tensor, DecoderCache]: ...


class SearchStrategy(Protocol):
    def search(
        self, model: StepModel, src_ids: torch.Tensor, max_lengths: torch.Tensor
    ) -> list[list[Hypothesis]]:
        """src_ids ``(B, S)``, max_lengths ``(B,)`` -> ranked hypotheses for each sentence."""
        ...


def next_token_log_probs(
    model: StepModel,
    tokens: torch.Tensor,
    cache: DecoderCache,
    blocked: list[int],
    guard: RepetitionGuard | None = None,
    history: torch.Tensor | None = None,
    exempt: torch.Tensor | None = None,
) -> tuple[torch.Tensor, DecoderCache]:
    """One decoder step: last tokens ``(A,)`` -> log-probabilities ``(A, V)`` in fp32, with
    ``-inf`` for the ``blocked`` tokens (never chosen; the others keep their probabilities) and
    the repetition ``guard`` applied given each row's tokens so far, ``history (A, L)``, except
    to the ``exempt`` tokens ``(A, V)`` (forced ones)."""
    step_log_probs = getattr(model, "step_log_probs", None)  # optional: see StepModel
    if step_log_probs is not None:
        log_probs, cache = step_log_probs(tokens, cache)  # (A, V), a new tensor
    else:
        logits, cache = model.decode_step(tokens, cache)  # (A, V)
        log_probs = logits.float().log_softmax(dim=-1)  # (A, V), a new tensor: set in place
    log_probs[:, blocked] = float("-inf")
    if guard is not None and guard.active and history is not None:
        guard.apply(log_probs, history, exempt)
    return log_probs, cache


def never_generated(config: TransformerConfig) -> list[int]:
    """Tokens a search never emits: padding and the start symbol."""
    return [config.pad_id, config.bos_id]


Chooser = Callable[[torch.Tensor], torch.Tensor]  # log-probs (A, V) -> token ids (A,)


@torch.inference_mode()
def sequential_search(
    model: StepModel,
    src_ids: torch.Tensor,
    max_lengths: torch.Tensor,
    choose: Chooser,
    guard: RepetitionGuard | None = None,
    prefixes: Sequence[Sequence[int]] | None = None,
) -> list[list[Hypothesis]]:
    """One hypothesis per sentence, choosing each next token with ``choose`` (greedy/sampling)
    among those the repetition ``guard`` allows; the first tokens of sentence ``b`` are
    ``prefixes[b]`` (forced, see :mod:`.prefix`), when given.

    Sentences that produced ``</s>`` or reached their limit leave the batch at once.
    """
    config = model.config
    batch = src_ids.shape[0]
    steps = int(max_lengths.max().item()) if batch else 0
    cache = model.start_cache(model.encode(src_ids), src_ids, capacity=steps)
    tokens = torch.full((batch,), config.bos_id, dtype=torch.long, device=src_ids.device)
    alive = list(range(batch))  # original sentence index of each row
    generated: list[list[int]] = [[] for _ in range(batch)]
    totals = [0.0] * batch
    results: list[list[Hypothesis]] = [[] for _ in range(batch)]
    limits = max_lengths.tolist()
    blocked = never_generated(config)
    history = src_ids.new_empty((batch, 0))  # (A, L) tokens so far, kept for the guard
    guarded = guard is not None and guard.active
    for step in range(steps):
        forced = prefix_tokens(prefixes, alive, step)
        allowed = None  # (A, V) the forced tokens, only while some row is inside its prefix
        if forced[0]:
            allowed = token_mask((len(alive), config.tgt_vocab_size), forced, src_ids.device)
        log_probs, cache = next_token_log_probs(
            model, tokens, cache, blocked, guard, history, allowed
        )  # (A, V)
        if allowed is not None:
            keep_only(log_probs, allowed, forced[0])
        chosen = choose(log_probs)  # (A,)
        if guarded:
            history = torch.cat([history, chosen[:, None]], dim=1)  # (A, L+1)
        chosen_log_probs = log_probs.gather(1, chosen[:, None])[:, 0].tolist()
        keep: list[int] = []
        for row, (sentence, token) in enumerate(zip(alive, chosen.tolist(), strict=True)):
            generated[sentence].append(token)
            totals[sentence] += chosen_log_probs[row]
            ended = token == config.eos_id
            if ended or len(generated[sentence]) >= limits[sentence]:
                score = length_normalised(totals[sentence], len(generated[sentence]), 0.0)
                results[sentence] = [
                    Hypothesis(tuple(generated[sentence]), totals[sentence], score, ended)
                ]
            else:
                keep.append(row)
        if not keep:
            break
        if len(keep) < len(alive):
            index = torch.tensor(keep, device=src_ids.device)
            cache, chosen = cache.select(index), chosen.index_select(0, index)
            history = history.index_select(0, index) if guarded else history
            alive = [alive[row] for row in keep]
        tokens = chosen
    return results


def prefixes_only(controls: OutputControls | None, search: str) -> Sequence[Sequence[int]] | None:
    """The forced prefixes of ``controls``; terminology constraints need beam search."""
    if controls is None:
        return None
    if any(controls.terms):
        raise ValueError(f"terminology constraints need beam search, not {search}")
    return controls.prefixes


def greedy_choice(scores: torch.Tensor) -> torch.Tensor:
    """The most probable token of each row: scores ``(A, V)`` -> ids ``(A,)``."""
    return argmax(scores)


@dataclass(frozen=True)
class GreedySearch:
    """Always take the most probable next token (argmax) the repetition guard allows."""

    guard: RepetitionGuard = NO_GUARD

    def search(
        self,
        model: StepModel,
        src_ids: torch.Tensor,
        max_lengths: torch.Tensor,
        controls: OutputControls | None = None,
    ) -> list[list[Hypothesis]]:
        """As :class:`SearchStrategy`; ``controls`` may force prefixes (not constraints)."""
        prefixes = prefixes_only(controls, "greedy search")
        return sequential_search(model, src_ids, max_lengths, greedy_choice, self.guard, prefixes)


@dataclass(frozen=True)
class SamplingSearch:
    """Sample the next token from the (temperature / top-k / top-p filtered) distribution.

    ``seed`` makes the draw reproducible; the generator is explicit, never the global RNG.
    """

    temperature: float = 1.0
    top_k: int = 0  # 0 = no top-k filter
    top_p: float = 1.0  # 1.0 = no nucleus filter
    seed: int = 0
    guard: RepetitionGuard = NO_GUARD

    def __post_init__(self) -> None:
        # The one validation of decoding options (temperature > 0, top_p in (0, 1], ...).
        DecodingOptions(
            sample=True,
            temperature=self.temperature,
            top_k=self.top_k,
            top_p=self.top_p,
            seed=self.seed,
        )

    def search(
        self,
        model: StepModel,
        src_ids: torch.Tensor,
        max_lengths: torch.Tensor,
        controls: OutputControls | None = None,
    ) -> list[list[Hypothesis]]:
        """As :class:`SearchStrategy`; ``controls`` may force prefixes (not constraints)."""
        prefixes = prefixes_only(controls, "sampling")
        generator = torch.Generator(device=src_ids.device).manual_seed(self.seed)

        def choose(scores: torch.Tensor) -> torch.Tensor:
            scores = apply_temperature(scores, self.temperature)
            scores = top_p_filter(top_k_filter(scores, self.top_k), self.top_p)
            probs = scores.softmax(dim=-1)  # (A, V)
            return torch.multinomial(probs, 1, generator=generator)[:, 0]

        return sequential_search(model, src_ids, max_lengths, choose, self.guard, prefixes)
