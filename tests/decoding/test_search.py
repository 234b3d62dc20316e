"""Search strategies with a real (tiny) Transformer.

- beam search with one beam equals greedy;
- a padded batch equals its sentences decoded one at a time (greedy, beam, n-best lists);
- every hypothesis's log-probability equals the teacher-forced log-probability of its tokens,
  and its score equals ``log_prob / len ** length_penalty``;
- sampling is reproducible for a seed and reduces to greedy with ``top_k=1`` or a tiny ``top_p``.
"""

from __future__ import annotations

import pytest
import torch

from transformer_mt.decoding import (
    BeamSearch,
    GreedySearch,
    Hypothesis,
    SamplingSearch,
    SearchStrategy,
)
from transformer_mt.model import Transformer

PAD, BOS, EOS = 0, 2, 3
SOURCES = torch.tensor(
    [
        [5, 9, 14, 7, EOS, PAD],
        [11, 6, EOS, PAD, PAD, PAD],
        [8, 4, 19, 13, 22, EOS],
        [17, EOS, PAD, PAD, PAD, PAD],
    ]
)
MAX_LENGTHS = torch.tensor([8, 5, 9, 3])

STRATEGIES: list[SearchStrategy] = [
    GreedySearch(),
    BeamSearch(beam_size=4, length_penalty=1.0, n_best=4),
    BeamSearch(beam_size=3, length_penalty=0.6, n_best=2),
    BeamSearch(beam_size=2, length_penalty=0.0),
    SamplingSearch(seed=7),
    SamplingSearch(temperature=0.7, top_k=5, top_p=0.9, seed=3),
]
STRATEGY_IDS = ["greedy", "beam4", "beam3-lp0.6", "beam2-lp0", "sample", "sample-filtered"]


def length_penalty_of(strategy: SearchStrategy) -> float:
    return strategy.length_penalty if isinstance(strategy, BeamSearch) else 0.0


def unpadded(row: int) -> torch.Tensor:
    return SOURCES[row : row + 1, : int((SOURCES[row] != PAD).sum())]  # (1, S_row)


def teacher_forced_log_prob(
    model: Transformer, src: torch.Tensor, tokens: tuple[int, ...]
) -> float:
    """Sum of log p(y_i | <s> y_<i) from one full forward pass over ``<s> + tokens[:-1]``."""
    tgt_in = torch.tensor([[BOS, *tokens[:-1]]])
    with torch.no_grad():
        log_probs = model(src, tgt_in).double().log_softmax(dim=-1)[0]  # (T, V)
    return float(log_probs[torch.arange(len(tokens)), torch.tensor(tokens)].sum())


def assert_same_hypotheses(actual: list[Hypothesis], expected: list[Hypothesis]) -> None:
    assert [h.tokens for h in actual] == [h.tokens for h in expected]
    assert [h.finished for h in actual] == [h.finished for h in expected]
    for got, want in zip(actual, expected, strict=True):
        assert got.log_prob == pytest.approx(want.log_prob, abs=1e-4)
        assert got.score == pytest.approx(want.score, abs=1e-4)


def test_beam_of_one_equals_greedy(search_model: Transformer) -> None:
    greedy = GreedySearch().search(search_model, SOURCES, MAX_LENGTHS)
    beam = BeamSearch(beam_size=1, length_penalty=0.0).search(search_model, SOURCES, MAX_LENGTHS)
    for greedy_hypotheses, beam_hypotheses in zip(greedy, beam, strict=True):
        assert_same_hypotheses(beam_hypotheses, greedy_hypotheses)


@pytest.mark.parametrize("strategy", STRATEGIES[:4], ids=STRATEGY_IDS[:4])
def test_batch_equals_one_sentence_at_a_time(
    search_model: Transformer, strategy: SearchStrategy
) -> None:
    batched = strategy.search(search_model, SOURCES, MAX_LENGTHS)
    assert len(batched) == len(SOURCES)
    for row in range(len(SOURCES)):
        [alone] = strategy.search(search_model, unpadded(row), MAX_LENGTHS[row : row + 1])
        assert_same_hypotheses(batched[row], alone)


@pytest.mark.parametrize("strategy", STRATEGIES, ids=STRATEGY_IDS)
def test_log_prob_is_the_teacher_forced_log_probability(
    search_model: Transformer, strategy: SearchStrategy
) -> None:
    results = strategy.search(search_model, SOURCES, MAX_LENGTHS)
    penalty = length_penalty_of(strategy)
    for row, hypotheses in enumerate(results):
        for hypothesis in hypotheses:
            expected = teacher_forced_log_prob(search_model, unpadded(row), hypothesis.tokens)
            assert hypothesis.log_prob == pytest.approx(expected, abs=1e-4)
            length = len(hypothesis.tokens)
            assert hypothesis.score == pytest.approx(
                hypothesis.log_prob / length**penalty, abs=1e-6
            )


@pytest.mark.parametrize("strategy", STRATEGIES, ids=STRATEGY_IDS)
def test_hypotheses_are_well_formed(search_model: Transformer, strategy: SearchStrategy) -> None:
    results = strategy.search(search_model, SOURCES, MAX_LENGTHS)
    expected_count = strategy.n_best if isinstance(strategy, BeamSearch) else 1
    for hypotheses, limit in zip(results, MAX_LENGTHS.tolist(), strict=True):
        assert len(hypotheses) == expected_count
        scores = [h.score for h in hypotheses]
        assert scores == sorted(scores, reverse=True)
        assert len({h.tokens for h in hypotheses}) == len(hypotheses)  # distinct paths
        for hypothesis in hypotheses:
            tokens = hypothesis.tokens
            assert 1 <= len(tokens) <= limit
            assert PAD not in tokens
            assert BOS not in tokens
            assert EOS not in tokens[:-1]
            assert hypothesis.finished == (tokens[-1] == EOS)
            if not hypothesis.finished:
                assert len(tokens) == limit
            assert hypothesis.log_prob <= 0.0


def test_the_copy_model_ends_sentences_at_different_steps(copy_model: Transformer) -> None:
    """Guards the fixtures: the batch tests above must see sentences leave the batch early."""
    results = GreedySearch().search(copy_model, SOURCES, MAX_LENGTHS)
    lengths = {len(hypotheses[0].tokens) for hypotheses in results}
    assert sum(h[0].finished for h in results) >= 2
    assert len(lengths) >= 3


def test_sampling_is_reproducible_for_a_seed_and_varies_across_seeds(
    search_model: Transformer,
) -> None:
    def tokens(seed: int) -> list[tuple[int, ...]]:
        # A high temperature so that even the confident copy model has choices to make.
        sampling = SamplingSearch(temperature=3.0, seed=seed)
        results = sampling.search(search_model, SOURCES, MAX_LENGTHS)
        return [hypotheses[0].tokens for hypotheses in results]

    assert tokens(11) == tokens(11)
    assert len({tuple(tokens(seed)) for seed in range(4)}) > 1


def test_sampling_ignores_the_global_random_state(search_model: Transformer) -> None:
    torch.manual_seed(0)
    first = SamplingSearch(seed=5).search(search_model, SOURCES, MAX_LENGTHS)
    torch.manual_seed(1)
    second = SamplingSearch(seed=5).search(search_model, SOURCES, MAX_LENGTHS)
    assert [h[0].tokens for h in first] == [h[0].tokens for h in second]


@pytest.mark.parametrize(
    "sampling",
    [SamplingSearch(top_k=1, seed=1), SamplingSearch(top_p=1e-6, seed=2)],
    ids=["top_k=1", "top_p=1e-6"],
)
def test_sampling_from_the_top_token_only_is_greedy(
    search_model: Transformer, sampling: SamplingSearch
) -> None:
    greedy = GreedySearch().search(search_model, SOURCES, MAX_LENGTHS)
    sampled = sampling.search(search_model, SOURCES, MAX_LENGTHS)
    for greedy_hypotheses, sampled_hypotheses in zip(greedy, sampled, strict=True):
        assert_same_hypotheses(sampled_hypotheses, greedy_hypotheses)


def test_search_leaves_the_model_unchanged_and_takes_no_gradients(
    search_model: Transformer,
) -> None:
    before = {name: p.clone() for name, p in search_model.state_dict().items()}
    results = BeamSearch(beam_size=2).search(search_model, SOURCES, MAX_LENGTHS)
    assert all(isinstance(h.log_prob, float) for hs in results for h in hs)
    for name, value in search_model.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_empty_batch_gives_no_hypotheses(search_model: Transformer) -> None:
    empty = torch.zeros(0, 4, dtype=torch.long)
    no_limits = torch.zeros(0, dtype=torch.long)
    assert GreedySearch().search(search_model, empty, no_limits) == []
    assert BeamSearch().search(search_model, empty, no_limits) == []
