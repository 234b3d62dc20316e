"""Prefixes, terminology constraints and word alignments through the Translator, on the session's
trained toy run (English words -> one Chinese character each; see tests/cli/toy_data.py)."""

from __future__ import annotations

import pytest

from cli.toy_data import ToyRun, toy_pairs, trained_toy_run
from transformer_mt.decoding.controls import ControlError
from transformer_mt.decoding.pieces import split_words
from transformer_mt.decoding.translator import Candidate, Translator

SENTENCES = [
    "i like tea",
    "you see the big red car and the small green bird",
    "we eat rice today",
    "they read a new book at school now",
    "she drink water",
]
TERMS = [["鱼"], ["红车", "鸟"], [], ["书", "校", "现"], ["喝水"]]


@pytest.fixture(scope="module")
def translator(tmp_path_factory: pytest.TempPathFactory) -> Translator:
    run: ToyRun = trained_toy_run(tmp_path_factory)
    return Translator.load(run.run_dir)


def rescored(translator: Translator, source: str, candidate: Candidate) -> float:
    """The teacher-forced log-probability of the candidate's tokens (with its </s>)."""
    eos = translator.model.config.eos_id
    tokens = list(candidate.tokens)
    assert tokens[-1] == eos  # finished: the limit leaves room in these sentences
    (ids,), _ = translator.encode_sources([source])
    return translator.score_tokens([ids], [tokens[:-1]])[0]


@pytest.mark.parametrize("beam_size", [4, 5])
def test_every_constraint_appears_and_scores_are_teacher_forced(
    translator: Translator, beam_size: int
) -> None:
    results = translator.translate_detailed(
        SENTENCES, constraints=TERMS, beam_size=beam_size, n_best=beam_size
    )
    for source, terms, result in zip(SENTENCES, TERMS, results, strict=True):
        assert 1 <= len(result.candidates) <= beam_size
        texts = [candidate.text for candidate in result.candidates]
        assert len(set(texts)) == len(texts)  # one text once, whatever its segmentation
        for candidate in result.candidates:
            assert all(term in candidate.text for term in terms), (candidate.text, terms)
            assert candidate.log_prob == pytest.approx(
                rescored(translator, source, candidate), abs=1e-4
            )
            assert candidate.score == pytest.approx(candidate.log_prob / len(candidate.tokens))


@pytest.mark.parametrize("beam_size", [1, 4])
def test_unconstrained_sentences_translate_as_without_constraints(
    translator: Translator, beam_size: int
) -> None:
    sources = SENTENCES + [source for source, _ in toy_pairs(12, seed=5)]
    plain = translator.translate_detailed(sources, beam_size=beam_size)
    terms: list[list[str]] = [["鱼"] if i % 3 == 0 else [] for i in range(len(sources))]
    prefixes = ["他" if i % 3 == 1 else None for i in range(len(sources))]
    if beam_size == 1:
        terms = [[] for _ in sources]  # greedy takes prefixes only
    mixed = translator.translate_detailed(
        sources, beam_size=beam_size, constraints=terms, prefixes=prefixes
    )
    for alone, together, term, prefix in zip(plain, mixed, terms, prefixes, strict=True):
        if term or prefix:
            continue
        assert together.candidates[0].tokens == alone.candidates[0].tokens
        assert together.candidates[0].log_prob == pytest.approx(alone.candidates[0].log_prob)


@pytest.mark.parametrize("options", [{"beam_size": 4}, {"beam_size": 1}, {"sample": True}])
def test_outputs_start_with_their_prefix(translator: Translator, options: dict) -> None:
    prefixes = ["我们", None, "他不", "红", "现在很"]
    results = translator.translate_detailed(SENTENCES, prefixes=prefixes, **options)
    for source, prefix, result in zip(SENTENCES, prefixes, results, strict=True):
        best = result.candidates[0]
        assert best.text.startswith(prefix or "")
        assert best.log_prob == pytest.approx(rescored(translator, source, best), abs=1e-4)


def test_prefix_and_constraints_together(translator: Translator) -> None:
    [text] = translator.translate(["i like tea"], prefixes=["他"], constraints=[["狗", "水"]])
    assert text.startswith("他") and "狗" in text and "水" in text


def test_the_default_guards_never_block_a_term(translator: Translator) -> None:
    # Doubled and tripled characters: max_token_repeat=2 and the chunk guard would block them.
    terms = [["茶茶茶"], ["红红"], ["我我我我"]]
    results = translator.translate(SENTENCES[:3], constraints=terms, beam_size=5)
    for text, term in zip(results, terms, strict=True):
        assert term[0] in text


def test_alignments_pair_source_and_target_words(translator: Translator) -> None:
    results = translator.translate_detailed(SENTENCES, alignments=True, n_best=2)
    for source, result in zip(SENTENCES, results, strict=True):
        for candidate in result.candidates:
            assert candidate.alignment is not None
            targets = split_words(candidate.text)
            assert sorted({j for _, j in candidate.alignment}) == list(range(len(targets)))
            assert all(0 <= i < len(source.split()) for i, _ in candidate.alignment)
    plain = translator.translate_detailed(SENTENCES, n_best=2)
    assert all(c.alignment is None for r in plain for c in r.candidates)
    assert [c.tokens for r in plain for c in r.candidates] == [
        c.tokens for r in results for c in r.candidates
    ]


def test_an_empty_source_stays_empty_whatever_its_controls(translator: Translator) -> None:
    results = translator.translate_detailed(
        ["", "i like tea"], prefixes=["我", None], constraints=[["鱼"], []], alignments=True
    )
    assert results[0].text == "" and not results[0].candidates


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"constraints": [[""]]}, "sentence 1: empty constraint"),
        ({"constraints": [["  "]]}, "empty constraint"),
        # "i like tea" + </s>: 4 tokens, a limit of 4 x 2 + 10 = 18 output tokens.
        ({"constraints": [["鱼" * 19]]}, "is 19 tokens, over the output limit of 18"),
        ({"prefixes": ["我" * 18]}, "the prefix is 19 tokens, over the output limit of 18"),
        ({"prefixes": ["   "]}, "tokenizes to nothing"),
        ({"constraints": [["鱼", "鸟", "车", "书"]]}, "beam_size of at least 5"),
        ({"constraints": [["鱼"]], "beam_size": 1}, "beam_size of at least 2"),
        ({"constraints": [["鱼"]], "sample": True}, "not sampling"),
        ({"constraints": [["鱼"] * 3, ["鸟"] * 3]}, None),  # repeats count once: accepted
        ({"prefixes": ["我", "你"]}, "prefixes has 2 entries for 1 sentences"),
        ({"constraints": ["鱼"]}, "must be a list of phrases"),
        ({"prefixes": [5]}, "must be a string or None"),
        ({"constraints": [["鱼" * 10, "鸟" * 9]]}, "prefix and constraints take 19 tokens"),
    ],
)
def test_controls_the_search_cannot_honour_are_value_errors(
    translator: Translator, given: dict, message: str | None
) -> None:
    sentences = ["i like tea"] * (2 if message is None else 1)
    if message is None:
        translator.translate(sentences, **given)
        return
    with pytest.raises(ControlError, match=message) as error:
        translator.translate(sentences, **given)
    assert isinstance(error.value, ValueError) and "\n" not in str(error.value)
