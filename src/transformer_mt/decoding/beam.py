"""Beam search with a length penalty, n-best lists and removal of finished sentences.

Each sentence keeps ``K`` live hypotheses (beams). At each step every beam is extended by every
token; of the ``2K`` best extensions of a sentence, those ending in ``</s>`` that rank within the
top ``K`` are finished (scored ``log_prob / length ** length_penalty``), and the best ``K`` others
become the new beams. A sentence is done when it has ``K`` finished hypotheses; at its length
limit every remaining beam is finished as it stands. Done sentences leave the batch.

Shape letters: A sentences still decoding, K beams, V target vocabulary, L tokens so far.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from transformer_mt.config.decoding import DecodingOptions
from transformer_mt.decoding.guards import NO_GUARD, RepetitionGuard
from transformer_mt.decoding.hypothesis import Hypothesis, length_normalised
from transformer_mt.decoding.search import StepModel, never_generated, next_token_log_probs
from transformer_mt.decoding.topk import top_k
from transformer_mt.model.cache import DecoderCache


@dataclass
class BeamSelection:
    """The beams that continue after one step, in row order."""

    sentences: list[int] = field(default_factory=list)  # original indices still decoding
    rows: list[int] = field(default_factory=list)  # source row of each new beam
    tokens: list[int] = field(default_factory=list)  # the token each new beam appends
    scores: list[float] = field(default_factory=list)  # its total log-probability


@dataclass
class LiveBeams:
    """The beams still decoding: ``K`` rows per live sentence, sentence ``a``'s at rows
    ``a*K .. a*K+K-1`` of the cache, the tokens and the history."""

    cache: DecoderCache  # cross-attention K/V once per sentence, shared by its beams
    scores: torch.Tensor  # (A, K) total log-probabilities
    history: torch.Tensor  # (A*K, L) tokens so far
    tokens: torch.Tensor  # (A*K,) the newest token of each row
    alive: list[int]  # original indices of the sentences still decoding

    @classmethod
    def start(cls, model: StepModel, src_ids: torch.Tensor, beams: int, steps: int) -> LiveBeams:
        """``<s>`` in every beam of every sentence of ``src_ids (B, S)``; only the first beam
        is live (all would extend identically)."""
        config, batch, device = model.config, src_ids.shape[0], src_ids.device
        cache = model.start_cache(model.encode(src_ids), src_ids, beams=beams, capacity=steps)
        scores = torch.full((batch, beams), float("-inf"), device=device)  # (A, K)
        scores[:, 0] = 0.0
        history = torch.full((batch * beams, 0), config.pad_id, dtype=torch.long, device=device)
        tokens = torch.full((batch * beams,), config.bos_id, dtype=torch.long, device=device)
        return cls(cache, scores, history, tokens, list(range(batch)))

    def advance(self, selected: BeamSelection, beams: int) -> None:
        """Keep the selected rows, each extended by its token."""
        device = self.tokens.device
        index = torch.tensor(selected.rows, device=device)  # (A'*K,) rows that continue
        self.tokens = torch.tensor(selected.tokens, dtype=torch.long, device=device)  # (A'*K,)
        self.history = torch.cat([self.history.index_select(0, index), self.tokens[:, None]], 1)
        self.scores = torch.tensor(selected.scores, device=device).view(-1, beams)  # (A', K)
        self.cache = self.cache.select(index)
        self.alive = selected.sentences


@dataclass(frozen=True)
class BeamDecisions:
    """What one step decided, as an observer (``BeamSearch.on_step``) sees it.

    Row ``a`` of the candidate tensors is ``sentences[a]``; candidate ``c`` extends beam
    ``source_beam[a, c]`` (row ``a * K + source_beam[a, c]`` of ``history``) by ``tokens[a, c]``
    to a total log-probability ``scores[a, c]`` (``-inf``: no such candidate).
    """

    step: int  # 1-based
    sentences: list[int]  # original indices of the sentences decoded at this step
    scores: torch.Tensor  # (A, 2K) the best extensions' totals, best first
    source_beam: torch.Tensor  # (A, 2K)
    tokens: torch.Tensor  # (A, 2K)
    history: torch.Tensor  # (A*K, L) each live beam's tokens before this step
    selection: BeamSelection  # the beams that continue


@dataclass(frozen=True)
class BeamSearch:
    beam_size: int = 4
    length_penalty: float = 1.0  # 0: total log-prob; 1: average log-prob per token
    n_best: int = 1  # hypotheses returned per sentence (at most beam_size)
    guard: RepetitionGuard = NO_GUARD  # blocks or penalises repeats in every beam
    # Called after every step with its decisions (e.g. by explain's decoding trace).
    on_step: Callable[[BeamDecisions], None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        # The one validation of decoding options (beam_size >= 1, 1 <= n_best <= beam_size).
        DecodingOptions(
            beam_size=self.beam_size, length_penalty=self.length_penalty, n_best=self.n_best
        )

    @torch.inference_mode()
    def search(
        self, model: StepModel, src_ids: torch.Tensor, max_lengths: torch.Tensor
    ) -> list[list[Hypothesis]]:
        config = model.config
        beams = self.beam_size
        batch = src_ids.shape[0]
        steps = int(max_lengths.max().item()) if batch else 0
        live = LiveBeams.start(model, src_ids, beams, steps)
        finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
        limits = max_lengths.tolist()
        blocked = never_generated(config)
        for step in range(1, steps + 1):
            alive, history = live.alive, live.history
            log_probs, live.cache = next_token_log_probs(
                model, live.tokens, live.cache, blocked, self.guard, history
            )  # (A*K, V)
            vocab = log_probs.shape[-1]
            candidates = log_probs.add_(live.scores.view(-1, 1))  # (A*K, V) totals, in place
            top_scores, top_index = top_k(candidates.view(len(alive), beams * vocab), 2 * beams)
            source_beam, token = top_index // vocab, top_index % vocab  # (A, 2K) each
            selected = self._advance(
                step,
                alive,
                limits,
                top_scores,
                source_beam,
                token,
                history,
                finished,
                config.eos_id,
            )
            if self.on_step is not None:
                self.on_step(
                    BeamDecisions(step, alive, top_scores, source_beam, token, history, selected)
                )
            if not selected.sentences:
                break
            live.advance(selected, beams)
        return [sorted(hyps, key=lambda h: -h.score)[: self.n_best] for hyps in finished]

    def _advance(
        self,
        step: int,
        alive: list[int],
        limits: list[int],
        top_scores: torch.Tensor,
        source_beam: torch.Tensor,
        token: torch.Tensor,
        history: torch.Tensor,
        finished: list[list[Hypothesis]],
        eos_id: int,
    ) -> BeamSelection:
        """Finish hypotheses and pick the next beams of every sentence for one step."""
        beams = self.beam_size
        score_rows, beam_rows, token_rows = (
            top_scores.tolist(),
            source_beam.tolist(),
            token.tolist(),
        )
        selection = BeamSelection()
        for position, sentence in enumerate(alive):
            at_limit = step >= limits[sentence]
            kept: list[tuple[int, int, float]] = []
            for rank, (score, beam, tok) in enumerate(
                zip(score_rows[position], beam_rows[position], token_rows[position], strict=True)
            ):
                row = position * beams + beam
                if tok == eos_id or at_limit:
                    if rank < beams and len(finished[sentence]) < beams:
                        hypothesis_tokens = (*history[row].tolist(), tok)
                        hypothesis = self._hypothesis(hypothesis_tokens, score, tok == eos_id)
                        finished[sentence].append(hypothesis)
                elif len(kept) < beams:
                    kept.append((row, tok, score))
            if len(finished[sentence]) >= beams or at_limit:
                continue
            selection.sentences.append(sentence)
            for row, tok, score in kept:
                selection.rows.append(row)
                selection.tokens.append(tok)
                selection.scores.append(score)
        return selection

    def _hypothesis(self, tokens: tuple[int, ...], log_prob: float, ended: bool) -> Hypothesis:
        score = length_normalised(log_prob, len(tokens), self.length_penalty)
        return Hypothesis(tokens=tokens, log_prob=log_prob, score=score, finished=ended)
