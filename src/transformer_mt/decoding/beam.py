"""Beam search with a length penalty, n-best lists and removal of finished sentences.

Each sentence keeps ``K`` live hypotheses (beams). At each step every beam is extended by every
token; of the ``2K`` best extensions of a sentence, those ending in ``</s>`` that rank within the
top ``K`` are finished (scored ``log_prob / length ** length_penalty``), and the best ``K`` others
become the new beams. A sentence is done when it has ``K`` finished hypotheses; at its length
limit every remaining beam is finished as it stands. Done sentences leave the batch.

The choice of each step is made on tensors for the whole batch (:func:`choose_beams`); Python
only builds the :class:`Hypothesis` of the few candidates that finish.

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
        self.keep(
            torch.tensor(selected.rows, device=device),  # (A'*K,)
            torch.tensor(selected.tokens, dtype=torch.long, device=device),  # (A'*K,)
            torch.tensor(selected.scores, device=device).view(-1, beams),  # (A', K)
            selected.sentences,
        )

    def keep(
        self, rows: torch.Tensor, tokens: torch.Tensor, scores: torch.Tensor, alive: list[int]
    ) -> None:
        """Keep ``rows (A'*K,)``, each extended by its token ``(A'*K,)`` to a total ``scores
        (A', K)``; ``alive``: the original indices of the ``A'`` sentences."""
        self.tokens = tokens
        self.history = torch.cat([self.history.index_select(0, rows), tokens[:, None]], 1)
        self.scores = scores
        self.cache = self.cache.select(rows)
        self.alive = alive


@dataclass(frozen=True)
class Candidates:
    """Each live sentence's ``2K`` best extensions, best first (``-inf``: no such candidate):
    candidate ``c`` of sentence ``a`` extends row ``a * K + source_beam[a, c]`` by
    ``tokens[a, c]`` to a total log-probability ``scores[a, c]``."""

    scores: torch.Tensor  # (A, 2K)
    source_beam: torch.Tensor  # (A, 2K)
    tokens: torch.Tensor  # (A, 2K)


@dataclass(frozen=True)
class BeamChoice:
    """What one step keeps: the candidates that finish, and the new beams of the sentences
    that stay (as in :class:`BeamSelection`, in tensors)."""

    finish: torch.Tensor | None  # (A, 2K) bool: candidates that become hypotheses; None: none
    stay: torch.Tensor | None  # (A,) bool: sentences that go on; None: every one
    rows: torch.Tensor  # (A'*K,) the row each new beam continues
    tokens: torch.Tensor  # (A'*K,) the token it appends
    scores: torch.Tensor  # (A', K) its total log-probability


def choose_beams(
    candidates: Candidates, eos_id: int, at_limit: torch.Tensor | None, room: torch.Tensor
) -> BeamChoice:
    """The rules of the module docstring for one step, on tensors.

    A candidate *ends* when its token is ``eos_id`` or its sentence is ``at_limit`` ``(A,)``
    (None: no sentence is). Ending candidates ranked within the top ``K`` finish, best first,
    while their sentence has ``room (A,)`` (``K`` minus its finished hypotheses); the first
    ``K`` candidates that do not end become the beams (a sentence not at its limit has at least
    ``K``: one beam has one ``</s>``). A sentence stays unless it is at its limit or has filled
    its room."""
    tokens, width = candidates.tokens, candidates.tokens.shape[1]
    beams = width // 2
    ends = tokens == eos_id  # (A, 2K)
    if at_limit is None and not bool(ends[:, :beams].any()):
        # Nothing finishes: the top K candidates are the new beams of every sentence.
        first = torch.arange(0, tokens.shape[0] * beams, beams, device=tokens.device)  # (A,)
        rows = first[:, None] + candidates.source_beam[:, :beams]  # (A, K)
        scores = candidates.scores[:, :beams].contiguous()  # (A, K)
        return BeamChoice(None, None, rows.flatten(), tokens[:, :beams].flatten(), scores)
    if at_limit is not None:
        ends |= at_limit[:, None]
    in_top = torch.arange(width, device=tokens.device) < beams  # (2K,)
    finish = ends & in_top & (ends.cumsum(1) <= room[:, None])  # (A, 2K)
    stay = finish.sum(1) < room  # (A,)
    if at_limit is not None:
        stay &= ~at_limit
    goes_on = ~ends  # (A, 2K)
    kept = goes_on & (goes_on.cumsum(1) <= beams)  # (A, 2K): K of each staying sentence
    position = stay.nonzero()[:, 0]  # (A',)
    rank = kept.index_select(0, position).nonzero()[:, 1].view(-1, beams)  # (A', K)
    source_beam = candidates.source_beam.index_select(0, position).gather(1, rank)  # (A', K)
    rows = position[:, None] * beams + source_beam  # (A', K)
    new_tokens = tokens.index_select(0, position).gather(1, rank)  # (A', K)
    scores = candidates.scores.index_select(0, position).gather(1, rank)  # (A', K)
    return BeamChoice(finish, stay, rows.flatten(), new_tokens.flatten(), scores)


@dataclass
class LiveSentences:
    """The sentences still decoding, their length limits and how many hypotheses each may
    still finish, kept as tensors so that a step where nothing finishes needs no Python."""

    alive: list[int]  # original indices
    limits: torch.Tensor  # (A,) each one's length limit
    room: torch.Tensor  # (A,) K minus its finished hypotheses
    first_limit: int  # the smallest limit (no sentence is at its limit before this step)

    @classmethod
    def start(cls, max_lengths: torch.Tensor, beams: int) -> LiveSentences:
        """Every sentence of the batch, with limits ``max_lengths (B,)``."""
        batch = max_lengths.shape[0]
        room = torch.full((batch,), beams, dtype=torch.long, device=max_lengths.device)  # (B,)
        first = int(max_lengths.min().item()) if batch else 0
        return cls(list(range(batch)), max_lengths, room, first)

    def at_limit(self, step: int) -> torch.Tensor | None:
        """Which sentences reach their limit at ``step``: ``(A,)`` bool, None for none."""
        return None if step < self.first_limit else self.limits <= step

    def update(self, choice: BeamChoice) -> None:
        """Count the hypotheses ``choice`` finishes and keep the sentences that stay."""
        if choice.finish is None or choice.stay is None:
            return
        self.room = self.room - choice.finish.sum(1)  # (A,)
        if bool(choice.stay.all()):
            return
        position = choice.stay.nonzero()[:, 0]  # (A',)
        self.alive = [self.alive[p] for p in position.tolist()]
        self.limits = self.limits.index_select(0, position)  # (A',)
        self.room = self.room.index_select(0, position)  # (A',)
        self.first_limit = int(self.limits.min().item()) if self.alive else 0


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
        sentences = LiveSentences.start(max_lengths.to(src_ids.device), beams)
        finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
        blocked = never_generated(config)
        for step in range(1, steps + 1):
            alive, history = sentences.alive, live.history
            log_probs, live.cache = next_token_log_probs(
                model, live.tokens, live.cache, blocked, self.guard, history
            )  # (A*K, V)
            vocab = log_probs.shape[-1]
            totals = log_probs.add_(live.scores.view(-1, 1))  # (A*K, V) totals, in place
            top_scores, top_index = top_k(totals.view(len(alive), beams * vocab), 2 * beams)
            candidates = Candidates(top_scores, top_index // vocab, top_index % vocab)
            choice = choose_beams(
                candidates, config.eos_id, sentences.at_limit(step), sentences.room
            )
            self._finish(choice, candidates, alive, history, finished, config.eos_id)
            sentences.update(choice)
            if self.on_step is not None:
                self.on_step(self._decisions(step, alive, candidates, history, choice, sentences))
            if not sentences.alive:
                break
            live.keep(choice.rows, choice.tokens, choice.scores, sentences.alive)
        return [sorted(hyps, key=lambda h: -h.score)[: self.n_best] for hyps in finished]

    def _finish(
        self,
        choice: BeamChoice,
        candidates: Candidates,
        alive: list[int],
        history: torch.Tensor,
        finished: list[list[Hypothesis]],
        eos_id: int,
    ) -> None:
        """Add the hypotheses ``choice`` finishes to their sentences' lists, in rank order."""
        if choice.finish is None:
            return
        position, rank = choice.finish.nonzero(as_tuple=True)  # (F,) each
        rows = position * self.beam_size + candidates.source_beam[position, rank]  # (F,)
        prefixes = history.index_select(0, rows).tolist()  # (F, L)
        tokens = candidates.tokens[position, rank].tolist()  # (F,)
        scores = candidates.scores[position, rank].tolist()  # (F,)
        for prefix, token, score, sentence in zip(
            prefixes, tokens, scores, position.tolist(), strict=True
        ):
            hypothesis = self._hypothesis((*prefix, token), score, token == eos_id)
            finished[alive[sentence]].append(hypothesis)

    def _hypothesis(self, tokens: tuple[int, ...], log_prob: float, ended: bool) -> Hypothesis:
        score = length_normalised(log_prob, len(tokens), self.length_penalty)
        return Hypothesis(tokens=tokens, log_prob=log_prob, score=score, finished=ended)

    @staticmethod
    def _decisions(
        step: int,
        alive: list[int],
        candidates: Candidates,
        history: torch.Tensor,
        choice: BeamChoice,
        sentences: LiveSentences,
    ) -> BeamDecisions:
        """The observer's view of one step (its selection in lists, built for it alone)."""
        selection = BeamSelection(
            sentences=list(sentences.alive),
            rows=choice.rows.tolist(),
            tokens=choice.tokens.tolist(),
            scores=choice.scores.flatten().tolist(),
        )
        return BeamDecisions(
            step,
            alive,
            candidates.scores,
            candidates.source_beam,
            candidates.tokens,
            history,
            selection,
        )
