"""Search strategies on scripted probabilities, against hypotheses and scores derived by hand.

The scripted model implements the ``StepModel`` contract (``config``, ``encode``,
``start_cache``, ``decode_step``); its next-token distribution is read from a hand-written table
keyed by the source sentence and the tokens generated so far. Every log-probability below is a
product of table entries, written out in the test.

Vocabulary: 0 <pad>, 1 <unk>, 2 <s>, 3 </s> (written E), 4 A, 5 B.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch

from transformer_mt.decoding import (
    BeamSearch,
    GreedySearch,
    Hypothesis,
    SamplingSearch,
    SearchStrategy,
)
from transformer_mt.decoding.beam import BeamDecisions
from transformer_mt.model import TransformerConfig

PAD, BOS, E, A, B = 0, 2, 3, 4, 5
VOCAB = 6

Prefix = tuple[int, ...]
Table = dict[Prefix, dict[int, float]]

# Sentence 1: the greedy path (A A E, p = .6 * .5 * .5 = .15) is not the best beam path
# (B E, p = .4 * .9 = .36).
GREEDY_IS_NOT_BEST: Table = {
    (): {A: 0.6, B: 0.4},
    (A,): {A: 0.5, E: 0.3, B: 0.2},
    (B,): {E: 0.9, A: 0.05, B: 0.05},
    (A, A): {E: 0.5, A: 0.3, B: 0.2},
    (A, B): {E: 0.6, A: 0.2, B: 0.2},
}
# Sentence 2: the length penalty decides between E (p = .5) and A E (p = .3 * .9 = .27).
LENGTH_PENALTY_DECIDES: Table = {
    (): {E: 0.5, A: 0.3, B: 0.2},
    (A,): {E: 0.9, A: 0.06, B: 0.04},
    (B,): {E: 0.9, A: 0.07, B: 0.03},
}
# Sentence 3: </s> is never likely; a length limit of 2 ends every hypothesis unfinished.
NEVER_ENDS: Table = {
    (): {A: 0.7, B: 0.2, E: 0.1},
    (A,): {A: 0.6, B: 0.3, E: 0.1},
    (B,): {A: 0.5, B: 0.4, E: 0.1},
}
# Sentence 4: at the limit, a finished (A E) and an unfinished (A A) hypothesis compete.
ENDS_AT_THE_LIMIT: Table = {
    (): {A: 0.7, B: 0.2, E: 0.1},
    (A,): {E: 0.5, A: 0.3, B: 0.2},
    (B,): {A: 0.5, B: 0.4, E: 0.1},
}
TABLES = {1: GREEDY_IS_NOT_BEST, 2: LENGTH_PENALTY_DECIDES, 3: NEVER_ENDS, 4: ENDS_AT_THE_LIMIT}


@dataclass
class ScriptedCache:
    """Per row: which table it reads and the tokens generated so far (None before <s>)."""

    sentences: list[int]
    prefixes: list[Prefix | None]

    def select(self, index: torch.Tensor) -> ScriptedCache:
        rows = index.tolist()
        return ScriptedCache([self.sentences[r] for r in rows], [self.prefixes[r] for r in rows])


class ScriptedModel:
    """Next-token log-probabilities from ``TABLES``; records every prefix it was asked about."""

    def __init__(self) -> None:
        self.config = TransformerConfig(
            src_vocab_size=VOCAB, tgt_vocab_size=VOCAB, d_model=16, num_heads=2
        )
        self.queries: list[tuple[int, Prefix]] = []

    def encode(self, src_ids: torch.Tensor) -> torch.Tensor:
        return src_ids[:, :1].float()[:, :, None]  # (B, 1, 1): the table key as "memory"

    def start_cache(
        self, memory: torch.Tensor, src_ids: torch.Tensor, *, beams: int = 1, capacity: int = 0
    ) -> ScriptedCache:
        keys = src_ids[:, 0].tolist()
        assert memory[:, 0, 0].long().tolist() == keys  # memory rows follow the source rows
        rows = [key for key in keys for _ in range(beams)]  # each sentence's beams, in a row
        return ScriptedCache(rows, [None] * len(rows))

    def decode_step(
        self, tokens: torch.Tensor, cache: ScriptedCache
    ) -> tuple[torch.Tensor, ScriptedCache]:
        logits = torch.full((len(cache.sentences), VOCAB), float("-inf"))
        prefixes: list[Prefix | None] = []
        for row, (sentence, prefix, token) in enumerate(
            zip(cache.sentences, cache.prefixes, tokens.tolist(), strict=True)
        ):
            if prefix is None:
                assert token == BOS
                prefix = ()
            else:
                prefix = (*prefix, token)
            self.queries.append((sentence, prefix))
            for next_token, probability in TABLES[sentence][prefix].items():
                logits[row, next_token] = math.log(probability)
            prefixes.append(prefix)
        return logits, ScriptedCache(list(cache.sentences), prefixes)


def search(
    strategy: SearchStrategy, sentences: list[int], max_lengths: list[int]
) -> list[list[Hypothesis]]:
    src = torch.tensor([[s, E] for s in sentences])
    return strategy.search(ScriptedModel(), src, torch.tensor(max_lengths))  # type: ignore[arg-type]  # duck-typed cache


def expect(
    tokens: Prefix, probability: float, length_penalty: float, finished: bool = True
) -> Hypothesis:
    log_prob = math.log(probability)
    return Hypothesis(tokens, log_prob, log_prob / len(tokens) ** length_penalty, finished)


def assert_hypotheses(actual: list[Hypothesis], expected: list[Hypothesis]) -> None:
    assert [h.tokens for h in actual] == [h.tokens for h in expected]
    assert [h.finished for h in actual] == [h.finished for h in expected]
    for got, want in zip(actual, expected, strict=True):
        assert got.log_prob == pytest.approx(want.log_prob, abs=1e-6)
        assert got.score == pytest.approx(want.score, abs=1e-6)


# -- greedy ---------------------------------------------------------------------------------


def test_greedy_follows_the_most_likely_token() -> None:
    [[hypothesis]] = search(GreedySearch(), [1], [3])
    # Greedy scores are total log-probabilities (no length penalty).
    assert_hypotheses([hypothesis], [expect((A, A, E), 0.6 * 0.5 * 0.5, length_penalty=0.0)])


def test_greedy_stops_unfinished_at_the_length_limit() -> None:
    [[hypothesis]] = search(GreedySearch(), [3], [2])
    assert_hypotheses([hypothesis], [expect((A, A), 0.7 * 0.6, 0.0, finished=False)])


def test_greedy_can_end_immediately() -> None:
    [[hypothesis]] = search(GreedySearch(), [2], [5])
    assert_hypotheses([hypothesis], [expect((E,), 0.5, 0.0)])


# -- beam search ----------------------------------------------------------------------------


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_beam_finds_the_better_path_that_greedy_misses(length_penalty: float) -> None:
    # Step 1: beams A (.6), B (.4).
    # Step 2: B E .36 (rank 0: finished), A A .30, A E .18 (rank 2: outside the beam, dropped),
    #         A B .12.  Beams: A A, A B.
    # Step 3 (limit): A A E .15 (rank 0: finished), A A A .09, A B E .072 ... -> 2 finished: done.
    [hypotheses] = search(
        BeamSearch(beam_size=2, length_penalty=length_penalty, n_best=2), [1], [3]
    )
    assert_hypotheses(
        hypotheses,
        [
            expect((B, E), 0.4 * 0.9, length_penalty),
            expect((A, A, E), 0.6 * 0.5 * 0.5, length_penalty),
        ],
    )


def test_length_penalty_changes_the_winner() -> None:
    # Step 1: E .5 (finished), beams A (.3), B (.2).
    # Step 2: A E .27 (finished: the second, so the sentence is done), B E .18, A A .018 ...
    # Total log-prob prefers E: log .5 = -0.69 > log .27 = -1.31.
    # Average log-prob prefers A E: log(.27) / 2 = -0.65 > log(.5) / 1 = -0.69.
    [total] = search(BeamSearch(beam_size=2, length_penalty=0.0, n_best=2), [2], [3])
    assert_hypotheses(total, [expect((E,), 0.5, 0.0), expect((A, E), 0.3 * 0.9, 0.0)])
    [average] = search(BeamSearch(beam_size=2, length_penalty=1.0, n_best=2), [2], [3])
    assert_hypotheses(average, [expect((A, E), 0.3 * 0.9, 1.0), expect((E,), 0.5, 1.0)])


def test_n_best_one_returns_only_the_winner() -> None:
    [best] = search(BeamSearch(beam_size=2, length_penalty=1.0, n_best=1), [2], [3])
    assert_hypotheses(best, [expect((A, E), 0.3 * 0.9, 1.0)])


def test_length_limit_gives_unfinished_hypotheses() -> None:
    # Step 1: beams A (.7), B (.2); E (.1) ranks third, outside the beam.
    # Step 2 (limit): A A .42, A B .21 are the two best and are finished as they stand.
    [hypotheses] = search(BeamSearch(beam_size=2, length_penalty=1.0, n_best=2), [3], [2])
    assert_hypotheses(
        hypotheses,
        [expect((A, A), 0.7 * 0.6, 1.0, finished=False), expect((A, B), 0.7 * 0.3, 1.0, False)],
    )


def test_finished_and_unfinished_hypotheses_at_the_limit() -> None:
    # Step 2 (limit): A E .35 (ends with </s>), A A .21 (cut by the limit).
    [hypotheses] = search(BeamSearch(beam_size=2, length_penalty=1.0, n_best=2), [4], [2])
    assert_hypotheses(
        hypotheses,
        [expect((A, E), 0.7 * 0.5, 1.0), expect((A, A), 0.7 * 0.3, 1.0, finished=False)],
    )


def test_beam_of_one_is_greedy() -> None:
    for sentence, limit in [(1, 3), (2, 3), (3, 2), (4, 2)]:
        [[beam]] = search(BeamSearch(beam_size=1, length_penalty=0.0), [sentence], [limit])
        [[greedy]] = search(GreedySearch(), [sentence], [limit])
        assert_hypotheses([beam], [greedy])


def test_a_batch_equals_the_hand_derived_results_of_each_sentence() -> None:
    """Sentences with different limits finish at different steps and leave the batch."""
    strategy = BeamSearch(beam_size=2, length_penalty=1.0, n_best=2)
    batched = search(strategy, [1, 2, 3, 4, 1], [3, 3, 2, 2, 3])
    for sentence, limit, hypotheses in zip([1, 2, 3, 4, 1], [3, 3, 2, 2, 3], batched, strict=True):
        assert_hypotheses(hypotheses, search(strategy, [sentence], [limit])[0])
    assert [h.tokens for h in batched[0]] == [(B, E), (A, A, E)]
    assert [h.tokens for h in batched[1]] == [(A, E), (E,)]


def test_beam_search_only_asks_about_the_prefixes_it_keeps() -> None:
    model = ScriptedModel()
    strategy = BeamSearch(beam_size=2, length_penalty=1.0, n_best=2)
    strategy.search(model, torch.tensor([[2, E]]), torch.tensor([3]))
    # Both initial beams read the empty prefix; then the two live beams A and B; then done.
    assert model.queries == [(2, ()), (2, ()), (2, (A,)), (2, (B,))]


def test_the_step_hook_sees_each_step_as_derived_by_hand() -> None:
    """``on_step`` reports every step's 2K candidates and the beams kept (sentence 1, as in
    test_beam_finds_the_better_path_that_greedy_misses)."""
    seen: list[tuple[int, list[tuple[Prefix, float]], set[Prefix]]] = []

    def observe(decisions: BeamDecisions) -> None:
        assert decisions.sentences == [0]
        history = decisions.history.tolist()
        candidates = [
            ((*history[beam], token), math.exp(score))
            for score, beam, token in zip(
                decisions.scores[0].tolist(),
                decisions.source_beam[0].tolist(),
                decisions.tokens[0].tolist(),
                strict=True,
            )
            if score > float("-inf")
        ]
        selection = decisions.selection
        kept = {(*history[r], t) for r, t in zip(selection.rows, selection.tokens, strict=True)}
        seen.append((decisions.step, candidates, kept))

    strategy = BeamSearch(beam_size=2, length_penalty=1.0, n_best=2, on_step=observe)
    [hypotheses] = search(strategy, [1], [3])
    assert [h.tokens for h in hypotheses] == [(B, E), (A, A, E)]  # the hook changes nothing
    assert [step for step, _, _ in seen] == [1, 2, 3]
    step_1, step_2 = seen[0], seen[1]
    assert [c for c, _ in step_1[1]] == [(A,), (B,)]  # from the one live beam: 2 candidates
    assert step_1[2] == {(A,), (B,)}
    assert [c for c, _ in step_2[1]] == [(B, E), (A, A), (A, E), (A, B)]
    assert [p for _, p in step_2[1]] == pytest.approx([0.36, 0.30, 0.18, 0.12])
    assert step_2[2] == {(A, A), (A, B)}  # B E finished; A E ranked outside the beam
    assert seen[2][2] == set()  # the sentence is done


def test_invalid_beam_options() -> None:
    with pytest.raises(ValueError, match="beam_size"):
        BeamSearch(beam_size=0)
    with pytest.raises(ValueError, match="n_best"):
        BeamSearch(beam_size=2, n_best=3)


# -- sampling -------------------------------------------------------------------------------


def first_token_counts(strategy: SamplingSearch, draws: int) -> dict[int, int]:
    results = search(strategy, [1] * draws, [1] * draws)  # one token per sentence
    counts: dict[int, int] = {}
    for [hypothesis] in results:
        counts[hypothesis.tokens[0]] = counts.get(hypothesis.tokens[0], 0) + 1
    return counts


def test_sampling_draws_from_the_model_distribution() -> None:
    counts = first_token_counts(SamplingSearch(seed=0), 4000)
    assert set(counts) == {A, B}
    assert counts[A] / 4000 == pytest.approx(0.6, abs=0.03)  # 4 standard errors


def test_sampling_temperature_sharpens_and_flattens() -> None:
    # p(A) = .6^(1/T) / (.6^(1/T) + .4^(1/T)): .692 at T = 0.5, .550 at T = 2.
    cold = first_token_counts(SamplingSearch(temperature=0.5, seed=1), 4000)
    hot = first_token_counts(SamplingSearch(temperature=2.0, seed=1), 4000)
    assert cold[A] / 4000 == pytest.approx(0.36 / (0.36 + 0.16), abs=0.03)
    assert hot[A] / 4000 == pytest.approx(0.6**0.5 / (0.6**0.5 + 0.4**0.5), abs=0.03)


def test_sampling_filters_keep_only_the_top_token() -> None:
    assert first_token_counts(SamplingSearch(top_k=1, seed=2), 500) == {A: 500}
    # The nucleus of mass .5 is A alone (.6 >= .5).
    assert first_token_counts(SamplingSearch(top_p=0.5, seed=3), 500) == {A: 500}


def test_sampled_log_prob_is_the_model_log_prob_not_the_filtered_one() -> None:
    # With top_k=1 the filtered distribution gives A probability 1, but the hypothesis reports
    # the model's own log-probability.
    [[hypothesis]] = search(SamplingSearch(top_k=1, temperature=0.5), [1], [3])
    assert_hypotheses([hypothesis], [expect((A, A, E), 0.6 * 0.5 * 0.5, 0.0)])


@pytest.mark.parametrize(
    "options", [{"temperature": 0.0}, {"top_p": 0.0}, {"top_p": 1.5}, {"top_k": -1}]
)
def test_invalid_sampling_options(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        SamplingSearch(**options)  # type: ignore[arg-type]  # mixed option types
