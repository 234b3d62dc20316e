"""Repetition guards: the tokens each one blocks on hand-written histories, and searches over a
scripted model that loves to stutter, against hand-derived outputs and scores.

Vocabulary: 0 <pad>, 1 <unk>, 2 <s>, 3 </s> (E), 4 A, 5 B, 6 C.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import pytest
import torch

from transformer_mt.config.decoding import DecodingOptions, OptionError
from transformer_mt.decoding import BeamSearch, GreedySearch, SamplingSearch
from transformer_mt.decoding.doubles import DoubleTable
from transformer_mt.decoding.guards import RepetitionGuard
from transformer_mt.decoding.translator import make_strategy
from transformer_mt.model import TransformerConfig

BOS, E, A, B, C = 2, 3, 4, 5, 6
VOCAB = 7


def blocked(guard: RepetitionGuard, *histories: list[int]) -> list[list[int]]:
    mask = guard.blocked(torch.tensor(histories), VOCAB)
    return [row.nonzero()[:, 0].tolist() for row in mask]


def test_max_token_repeat_blocks_only_a_full_run() -> None:
    guard = RepetitionGuard(max_token_repeat=2)
    assert blocked(guard, [C, A, A], [A, B, A], [B, B, B], [A, C, C]) == [[A], [], [B], [C]]
    assert blocked(RepetitionGuard(max_token_repeat=3), [A, A]) == [[]]  # too short to be a run
    assert blocked(RepetitionGuard(max_token_repeat=1), [A, B]) == [[B]]  # no token twice in a row


def test_no_repeat_ngram_blocks_the_token_completing_a_seen_ngram() -> None:
    bigrams = RepetitionGuard(no_repeat_ngram_size=2)
    # A B C A: "A B" was seen, so after A, B is blocked; B C A C: "C A" was seen -> A blocked.
    assert blocked(bigrams, [A, B, C, A], [B, C, A, C], [A, B, C, E]) == [[B], [A], []]
    trigrams = RepetitionGuard(no_repeat_ngram_size=3)
    assert blocked(trigrams, [A, B, C, A, B], [A, B, A, B, C]) == [[C], []]
    assert blocked(RepetitionGuard(no_repeat_ngram_size=1), [A, C]) == [[A, C]]


def test_no_repeat_chunk_blocks_only_an_immediate_repeat() -> None:
    chunks = RepetitionGuard(no_repeat_chunk_size=3)
    # C A B A + B would end "A B A B", A B C A B + C "A B C A B C", A B C B + C "B C B C";
    # after E A B C A no chunk of 2-3 tokens can repeat at once.
    histories = [[E, C, A, B, A], [A, B, C, A, B], [E, A, B, C, B], [E, A, B, C, A]]
    assert blocked(chunks, *histories) == [[B], [C], [C], []]
    assert blocked(chunks, [B, E, C, A]) == [[]]
    assert blocked(RepetitionGuard(no_repeat_chunk_size=2), [A, B, C, A, B]) == [[]]


def test_no_unseen_doubles_blocks_only_with_a_table() -> None:
    # Token texts: A "水", B "喝水", C "妈"; the training data doubles 妈 only.
    table = DoubleTable.build([None, None, None, None, "水", "喝水", "妈"], frozenset("妈"))
    guard = RepetitionGuard(no_unseen_doubles=True, doubles=table)
    assert guard.blocking
    assert blocked(guard, [B], [A], [C], [E]) == [[A], [A], [], []]
    assert not RepetitionGuard(no_unseen_doubles=True).blocking  # no table: off
    assert blocked(RepetitionGuard(doubles=table), [B]) == [[]]  # allowed by the options


def test_the_penalty_scales_seen_tokens_log_probs_and_nothing_else() -> None:
    log_probs = torch.tensor([[-1.0, -2.0, -3.0, -4.0, -0.5, -2.5, -1.5]])
    guarded = RepetitionGuard(repetition_penalty=2.0).apply(
        log_probs.clone(), torch.tensor([[A, C, A]])
    )
    expected = log_probs.clone()
    expected[0, A], expected[0, C] = -1.0, -3.0
    assert torch.equal(guarded, expected)


def test_guards_combine_and_are_off_by_default() -> None:
    assert not RepetitionGuard().active
    guard = RepetitionGuard(max_token_repeat=2, no_repeat_ngram_size=2)
    assert blocked(guard, [A, B, B, A]) == [[B]]  # "A B" seen (ngram) ...
    assert blocked(guard, [A, C, C]) == [[C]]  # ... and a run of two C


@dataclass
class LastTokenCache:
    last: list[int]

    def select(self, index: torch.Tensor) -> LastTokenCache:
        return LastTokenCache([self.last[row] for row in index.tolist()])


# The next token depends only on the last one, and the model would rather repeat than move on:
# greedy says A A A A ... forever.
STUTTER = {
    BOS: {A: 0.6, B: 0.4},
    A: {A: 0.5, B: 0.3, E: 0.2},
    B: {B: 0.5, E: 0.4, A: 0.1},
}


class StutteringModel:
    def __init__(self) -> None:
        self.config = TransformerConfig(
            src_vocab_size=VOCAB, tgt_vocab_size=VOCAB, d_model=16, num_heads=2
        )

    def encode(self, src_ids: torch.Tensor) -> torch.Tensor:
        return src_ids.float()[:, :, None]

    def start_cache(
        self, memory: torch.Tensor, src_ids: torch.Tensor, *, beams: int = 1, capacity: int = 0
    ) -> LastTokenCache:
        return LastTokenCache([BOS] * (src_ids.shape[0] * beams))

    def decode_step(
        self, tokens: torch.Tensor, cache: LastTokenCache
    ) -> tuple[torch.Tensor, LastTokenCache]:
        logits = torch.full((tokens.shape[0], VOCAB), float("-inf"))
        for row, token in enumerate(tokens.tolist()):
            for next_token, probability in STUTTER.get(token, {E: 1.0}).items():  # dead beams
                logits[row, next_token] = math.log(probability)
        return logits, LastTokenCache(tokens.tolist())


def decode(strategy: object, limit: int = 6) -> list[tuple[tuple[int, ...], float]]:
    src = torch.tensor([[A, E]])
    hypotheses = strategy.search(StutteringModel(), src, torch.tensor([limit]))  # type: ignore[attr-defined]
    return [(h.tokens, h.log_prob) for h in hypotheses[0]]


def test_greedy_without_a_guard_stutters_to_the_limit() -> None:
    assert decode(GreedySearch()) == [((A,) * 6, pytest.approx(math.log(0.6 * 0.5**5)))]


def test_a_run_cap_turns_greedy_to_the_next_best_token_and_keeps_its_log_prob() -> None:
    # A A (A blocked) B B (B blocked) E: .6 * .5 * .3 * .5 * .4, the model's own numbers.
    guard = RepetitionGuard(max_token_repeat=2)
    (result,) = decode(GreedySearch(guard))
    assert result == ((A, A, B, B, E), pytest.approx(math.log(0.6 * 0.5 * 0.3 * 0.5 * 0.4)))


def test_no_repeat_ngram_holds_in_every_beam_output() -> None:
    guard = RepetitionGuard(no_repeat_ngram_size=2)
    for tokens, _ in decode(BeamSearch(beam_size=3, n_best=3, guard=guard)):
        bigrams = list(itertools.pairwise(tokens))
        assert len(bigrams) == len(set(bigrams)), tokens


def test_sampling_respects_the_run_cap() -> None:
    guard = RepetitionGuard(max_token_repeat=1)
    for seed in range(20):
        (result,) = decode(SamplingSearch(seed=seed, guard=guard), limit=8)
        tokens = result[0]
        assert all(a != b for a, b in itertools.pairwise(tokens)), tokens


def test_decoding_options_choose_the_guard_for_every_strategy() -> None:
    options = DecodingOptions(max_token_repeat=2, no_repeat_ngram_size=3, repetition_penalty=1.2)
    # no_repeat_chunk_size and no_unseen_doubles keep their defaults
    expected = RepetitionGuard(2, 3, 1.2, 4, True)
    for strategy in ("beam", "greedy", "sample"):
        changes = {"beam": {}, "greedy": {"beam_size": 1}, "sample": {"sample": True}}[strategy]
        assert make_strategy(options.replace(**changes)).guard == expected  # type: ignore[attr-defined]
    for field, value in (("max_token_repeat", -1), ("repetition_penalty", 0.0)):
        with pytest.raises(OptionError, match=field):
            DecodingOptions(**{field: value})  # type: ignore[arg-type]
