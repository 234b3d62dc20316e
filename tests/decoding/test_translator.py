"""The Translator facade on the session's trained toy run (see tests/cli/toy_data.py)."""

from __future__ import annotations

import pytest

from cli.toy_data import ToyRun, toy_pairs, trained_toy_run
from transformer_mt.config import DecodingOptions
from transformer_mt.decoding.translator import Translator, length_sorted_batches

SENTENCES = [
    "i like tea",
    "you see the big red car and the small green bird",
    "dog",
    "we eat rice today",
    "they read a new book at school now",
    "she drink water",
]


@pytest.fixture(scope="module")
def translator(tmp_path_factory: pytest.TempPathFactory) -> Translator:
    run: ToyRun = trained_toy_run(tmp_path_factory)
    return Translator.load(run.run_dir)


def test_translations_come_back_in_input_order(translator: Translator) -> None:
    one_by_one = [translator.translate([s], beam_size=1)[0] for s in SENTENCES]
    assert translator.translate(SENTENCES, beam_size=1) == one_by_one
    assert translator.translate(SENTENCES[::-1], beam_size=1) == one_by_one[::-1]
    assert all(isinstance(text, str) and text for text in one_by_one)


@pytest.mark.parametrize("beam_size", [1, 4])
def test_a_batch_equals_its_sentences_one_at_a_time(translator: Translator, beam_size: int) -> None:
    sources = SENTENCES + [source for source, _ in toy_pairs(20, seed=9)]
    batched = translator.translate_detailed(sources, beam_size=beam_size, batch_size=64)
    single = translator.translate_detailed(sources, beam_size=beam_size, batch_size=1)
    for together, alone in zip(batched, single, strict=True):
        assert together.source == alone.source
        (best_together,), (best_alone,) = together.candidates, alone.candidates
        assert best_together.tokens == best_alone.tokens  # padding does not leak
        assert best_together.text == best_alone.text
        assert best_together.log_prob == pytest.approx(best_alone.log_prob, abs=1e-4)


def test_n_best_candidates_are_sorted_by_score(translator: Translator) -> None:
    results = translator.translate_detailed(SENTENCES, n_best=3, beam_size=3)
    for result in results:
        assert len(result.candidates) == 3
        scores = [candidate.score for candidate in result.candidates]
        assert scores == sorted(scores, reverse=True)
        assert len({candidate.tokens for candidate in result.candidates}) == 3
        for candidate in result.candidates:  # length penalty 1: average log-probability
            assert candidate.score == pytest.approx(candidate.log_prob / len(candidate.tokens))
        assert result.text == result.candidates[0].text


def source_ids(translator: Translator, sentence: str) -> list[int]:
    eos = translator.model.config.eos_id
    return [*translator.tokenizer.encode_source([sentence])[0], eos]


@pytest.mark.parametrize("beam_size", [1, 3])
def test_reported_log_prob_equals_teacher_forced_score(
    translator: Translator, beam_size: int
) -> None:
    eos = translator.model.config.eos_id
    results = translator.translate_detailed(SENTENCES, n_best=beam_size, beam_size=beam_size)
    on_tokens, on_text = 0, 0
    for sentence, result in zip(SENTENCES, results, strict=True):
        for candidate in result.candidates:
            if candidate.tokens[-1:] != (eos,):
                continue  # stopped by the length limit: the teacher-forced score adds </s>
            (scored,) = translator.score_tokens(
                [source_ids(translator, sentence)], [candidate.tokens[:-1]]
            )
            assert scored == pytest.approx(candidate.log_prob, abs=1e-4)
            on_tokens += 1
            retokenized = translator.tokenizer.encode_target([candidate.text])[0]
            if tuple(retokenized) == candidate.tokens[:-1]:
                (from_text,) = translator.score([sentence], [candidate.text])
                assert from_text == pytest.approx(candidate.log_prob, abs=1e-4)
                on_text += 1
    # The toy model is barely trained: some greedy outputs run to the length limit.
    assert on_tokens >= len(SENTENCES) // 2
    assert on_text >= 1


def test_score_is_batch_independent(translator: Translator) -> None:
    targets = translator.translate(SENTENCES, beam_size=1)
    together = translator.score(SENTENCES, targets)
    alone = [translator.score([s], [t])[0] for s, t in zip(SENTENCES, targets, strict=True)]
    assert together == pytest.approx(alone, abs=1e-4)
    assert all(score < 0 for score in together)
    with pytest.raises(ValueError, match="2 sources but 1 targets"):
        translator.score(SENTENCES[:2], targets[:1])


def test_sampling_is_reproducible_with_a_seed(translator: Translator) -> None:
    first = translator.translate(SENTENCES, sample=True, seed=7)
    assert translator.translate(SENTENCES, sample=True, seed=7) == first
    others = [translator.translate(SENTENCES, sample=True, seed=seed) for seed in (8, 9)]
    assert any(other != first for other in others)


def test_empty_sentences_translate_to_empty_strings(translator: Translator) -> None:
    assert translator.translate(["", "i like tea", "   ", "\t"], beam_size=1) == [
        "",
        translator.translate(["i like tea"], beam_size=1)[0],
        "",
        "",
    ]
    (empty,) = translator.translate_detailed([""], n_best=2, beam_size=2)
    assert empty.candidates == () and empty.text == "" and not empty.truncated
    assert translator.translate([]) == []


def test_overlong_source_is_truncated_and_flagged(translator: Translator) -> None:
    long_source = "cat dog " * 100
    (result,) = translator.translate_detailed([long_source, "dog"], beam_size=1)[:1]
    assert result.truncated
    limit = translator.max_source_tokens - 1
    cut = " ".join(long_source.split()[:limit])
    assert translator.translate([cut], beam_size=1) == [result.text]


@pytest.mark.parametrize(
    ("batch_size", "max_tokens"), [(64, 12), (3, None), (5, 40), (64, 1)], ids=str
)
def test_batch_composition_does_not_change_results(
    translator: Translator, batch_size: int, max_tokens: int | None
) -> None:
    """fp32: token budgets and batch sizes regroup sentences; outputs come back in input order."""
    sources = SENTENCES + [source for source, _ in toy_pairs(20, seed=9)]
    expected = [translator.translate([s], beam_size=4)[0] for s in sources]
    batched = translator.translate(
        sources, beam_size=4, batch_size=batch_size, max_tokens=max_tokens
    )
    assert batched == expected


def test_length_sorted_batches_respect_both_limits() -> None:
    encoded = [[5] * n for n in (7, 2, 0, 9, 3, 3, 12, 1)]  # index 2 is a blank line
    batches = length_sorted_batches(encoded, batch_size=3, max_tokens=12)
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == [0, 1, 3, 4, 5, 6, 7]  # every non-empty sentence exactly once
    assert [len(encoded[i]) for i in flat] == sorted(len(encoded[i]) for i in flat)
    for batch in batches:
        longest = max(len(encoded[i]) for i in batch)
        assert len(batch) <= 3
        assert len(batch) == 1 or longest * len(batch) <= 12


def test_options_and_keyword_overrides_are_one_set_of_options(translator: Translator) -> None:
    options = DecodingOptions(beam_size=3, n_best=2, length_penalty=0.5)
    with_options = translator.translate_detailed(SENTENCES, options)
    overridden = translator.translate_detailed(SENTENCES, beam_size=3, n_best=2, length_penalty=0.5)
    assert with_options == overridden
    base = DecodingOptions(length_penalty=0.5)
    assert translator.translate(SENTENCES, base, beam_size=2) == translator.translate(
        SENTENCES, beam_size=2, length_penalty=0.5
    )
    assert all(len(result.candidates) == 2 for result in with_options if result.source)
    with pytest.raises(TypeError, match="unknown decoding option"):
        translator.translate(SENTENCES, beams=2)
    with pytest.raises(ValueError, match="n_best"):
        translator.translate(SENTENCES, options, beam_size=1)
