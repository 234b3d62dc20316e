"""The autoregressive trace of the notes' inference example, recorded from the real searches.

Greedy: at each step, the decoder input so far, the top-k next tokens with their probabilities
and the chosen one. Beam: at each step, the ``2K`` best extensions the search considered, which
became beams, which finished (with their length-penalised scores) and which were pruned.

Both apply the repetition guard ``translate`` applies by default (or ``guard``), and both run the
project's own search code (:func:`~transformer_mt.decoding.search.sequential_search`
with the greedy choice, and :class:`~transformer_mt.decoding.beam.BeamSearch` through its public
``on_step`` hook), observed from the outside, so the trace is exactly what ``transformer-mt
translate`` does.

Shape letters: V target vocabulary, K beams.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch

from transformer_mt.config.decoding import DecodingOptions
from transformer_mt.decoding.beam import BeamDecisions, BeamSearch
from transformer_mt.decoding.guards import RepetitionGuard
from transformer_mt.decoding.search import greedy_choice, sequential_search
from transformer_mt.decoding.translator import Translator
from transformer_mt.explain.inputs import as_batch, encode_source, source_pieces, target_pieces


@dataclass(frozen=True)
class TokenChoice:
    token: str  # SentencePiece piece
    token_id: int
    probability: float  # the model's probability of this next token


@dataclass(frozen=True)
class BlockedChoice:
    """The model's most probable next token, blocked by the repetition guard."""

    beam_tokens: list[str]  # the hypothesis it would have extended (without <s>)
    token: str
    token_id: int
    probability: float  # what the model gave it


@dataclass(frozen=True)
class GreedyStep:
    step: int  # 1-based
    decoder_input: list[str]  # <s> + the tokens chosen so far
    top: list[TokenChoice]  # the top-k next tokens the guard allows, most probable first
    chosen: TokenChoice  # what greedy search took (the most probable allowed)
    blocked: BlockedChoice | None = None  # the model's first choice, if the guard blocked it


@dataclass(frozen=True)
class DecodingTrace:
    """Greedy decoding of one sentence, step by step."""

    source_tokens: list[str]
    steps: list[GreedyStep]
    output_ids: list[int]  # the chosen ids (with </s> when the search finished)
    translation: str
    log_prob: float  # total log-probability of ``output_ids``

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@torch.inference_mode()
def greedy_trace(
    translator: Translator,
    source: str,
    top_k: int = 5,
    max_length: int | None = None,
    guard: RepetitionGuard | None = None,
) -> DecodingTrace:
    """Greedy search on ``source`` with every step recorded.

    ``max_length`` limits the output tokens (default: the translator's usual limit).
    """
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    source_ids = encode_source(translator, source)
    src = as_batch(source_ids, translator)  # (1, S)
    limits = _limits(translator, src, max_length)
    recorded: list[tuple[list[float], list[int], int]] = []

    def choose(scores: torch.Tensor) -> torch.Tensor:  # (1, V) log-probs, <pad>/<s> blocked
        chosen = greedy_choice(scores)  # (1,)
        top = scores[0].topk(min(top_k, scores.shape[-1]))
        recorded.append((top.values.exp().tolist(), top.indices.tolist(), int(chosen[0])))
        return chosen

    blocked: list[list[BlockedChoice]] = []
    guard = _observed(guard or default_guard(translator), translator, blocked)
    ((hypothesis,),) = sequential_search(translator.model, src, limits, choose, guard)
    config = translator.model.config
    so_far = [config.bos_id]
    steps = []
    for number, (probabilities, ids, chosen_id) in enumerate(recorded, start=1):
        top = _choices(translator, ids, probabilities)
        chosen = next((c for c in top if c.token_id == chosen_id), None)
        step_blocked = blocked[number - 1] if number <= len(blocked) else []
        steps.append(
            GreedyStep(
                number,
                target_pieces(translator, so_far),
                top,
                chosen or top[0],
                step_blocked[0] if step_blocked else None,
            )
        )
        so_far.append(chosen_id)
    return DecodingTrace(
        source_tokens=source_pieces(translator, source_ids),
        steps=steps,
        output_ids=list(hypothesis.tokens),
        translation=translator.tokenizer.decode_target([list(hypothesis.tokens)])[0],
        log_prob=hypothesis.log_prob,
    )


Fate = Literal["kept", "finished", "pruned"]


@dataclass(frozen=True)
class BeamCandidate:
    tokens: list[str]  # the hypothesis after this step (without <s>)
    log_prob: float  # its total log-probability
    fate: Fate  # became a beam, finished with </s> (or at the length limit), or was dropped
    score: float | None  # length-penalised score, for finished hypotheses


@dataclass(frozen=True)
class BeamStep:
    step: int  # 1-based
    candidates: list[BeamCandidate]  # the 2K best extensions of the live beams, best first
    # Beams whose most probable next token the repetition guard blocked.
    blocked: list[BlockedChoice] = field(default_factory=list)

    @property
    def kept(self) -> list[BeamCandidate]:
        return [c for c in self.candidates if c.fate == "kept"]


@dataclass(frozen=True)
class FinishedHypothesis:
    tokens: list[str]
    log_prob: float
    score: float  # log_prob / len(tokens) ** length_penalty
    finished: bool  # ended with </s> (False: cut at the length limit)


@dataclass(frozen=True)
class BeamTrace:
    """Beam search on one sentence, step by step."""

    source_tokens: list[str]
    beam_size: int
    length_penalty: float
    steps: list[BeamStep]
    finished: list[FinishedHypothesis]  # every finished hypothesis, best score first
    best_ids: list[int]  # the search's result
    translation: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Record = tuple[list[tuple[tuple[int, ...], float]], set[tuple[int, ...]]]


def _recorder(records: list[Record]) -> Callable[[BeamDecisions], None]:
    """An observer for :class:`BeamSearch` ``on_step`` that keeps, for each step of a
    one-sentence search, its candidates (tokens, total log-prob) and the ones kept as beams."""

    def record(decisions: BeamDecisions) -> None:
        history, selection = decisions.history, decisions.selection
        # One sentence: row r of ``history`` is beam r, and the selection is that sentence's.
        candidates = [
            ((*history[beam].tolist(), tok), score)
            for score, beam, tok in zip(
                decisions.scores[0].tolist(),
                decisions.source_beam[0].tolist(),
                decisions.tokens[0].tolist(),
                strict=True,
            )
            if score > float("-inf")
        ]
        kept = {
            (*history[row].tolist(), tok)
            for row, tok in zip(selection.rows, selection.tokens, strict=True)
        }
        records.append((candidates, kept))

    return record


@torch.inference_mode()
def beam_trace(
    translator: Translator,
    source: str,
    beam_size: int = 4,
    length_penalty: float = 1.0,
    max_length: int | None = None,
    guard: RepetitionGuard | None = None,
) -> BeamTrace:
    """Beam search on ``source`` with every step's kept, finished and pruned candidates."""
    # n_best = beam_size returns every finished hypothesis; the best is the same as with n_best=1.
    records: list[Record] = []
    blocked: list[list[BlockedChoice]] = []
    search = BeamSearch(
        beam_size=beam_size,
        length_penalty=length_penalty,
        n_best=beam_size,
        guard=_observed(guard or default_guard(translator), translator, blocked),
        on_step=_recorder(records),
    )
    source_ids = encode_source(translator, source)
    src = as_batch(source_ids, translator)  # (1, S)
    (hypotheses,) = search.search(translator.model, src, _limits(translator, src, max_length))
    by_tokens = {h.tokens: h for h in hypotheses}
    steps = []
    for number, (candidates, kept) in enumerate(records, start=1):
        rows = []
        for ids, log_prob in candidates:
            done = by_tokens.get(ids)
            fate: Fate = "kept" if ids in kept else "finished" if done else "pruned"
            pieces = target_pieces(translator, list(ids))
            rows.append(BeamCandidate(pieces, log_prob, fate, done.score if done else None))
        steps.append(BeamStep(number, rows, blocked[number - 1] if number <= len(blocked) else []))
    return BeamTrace(
        source_tokens=source_pieces(translator, source_ids),
        beam_size=beam_size,
        length_penalty=length_penalty,
        steps=steps,
        finished=[
            FinishedHypothesis(
                target_pieces(translator, list(h.tokens)), h.log_prob, h.score, h.finished
            )
            for h in hypotheses
        ],
        best_ids=list(hypotheses[0].tokens),
        translation=translator.tokenizer.decode_target([list(hypotheses[0].tokens)])[0],
    )


def _observed(
    guard: RepetitionGuard, translator: Translator, store: list[list[BlockedChoice]]
) -> RepetitionGuard:
    """``guard`` recording, step by step, each hypothesis whose most probable next token it
    blocks (once per distinct hypothesis: beams that start identical are one)."""

    def observe(log_probs: torch.Tensor, mask: torch.Tensor, history: torch.Tensor) -> None:
        best = log_probs.argmax(dim=-1)  # (A,)
        seen: set[tuple[int, ...]] = set()
        found = []
        for row in mask.gather(1, best[:, None])[:, 0].nonzero()[:, 0].tolist():
            tokens = tuple(history[row].tolist())
            if tokens in seen or not math.isfinite(float(log_probs[row, best[row]])):
                continue
            seen.add(tokens)
            token = int(best[row])
            found.append(
                BlockedChoice(
                    target_pieces(translator, list(tokens)),
                    target_pieces(translator, [token])[0],
                    token,
                    math.exp(float(log_probs[row, token])),
                )
            )
        store.append(found)

    return dataclasses.replace(guard, on_block=observe)


def default_guard(translator: Translator) -> RepetitionGuard:
    """The repetition guard ``translate`` applies by default, on this translator's tokens."""
    return RepetitionGuard.from_options(
        DecodingOptions(), translator.piece_characters, translator.double_table
    )


def _limits(translator: Translator, src: torch.Tensor, max_length: int | None) -> torch.Tensor:
    """The translator's output limit for ``src`` ``(1, S)``, or ``max_length``. -> ``(1,)``."""
    if max_length is None:
        return translator.output_limits(src)
    if max_length < 1:
        raise ValueError(f"max_length must be at least 1, got {max_length}")
    return torch.tensor([max_length], device=src.device)


def _choices(
    translator: Translator, ids: list[int], probabilities: list[float]
) -> list[TokenChoice]:
    pieces = target_pieces(translator, ids)
    return [TokenChoice(p, i, q) for p, i, q in zip(pieces, ids, probabilities, strict=True)]
