"""Input letter case learned from the training sources (transformer_mt.data.casing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from transformer_mt.data.casing import (
    CASING_FILE,
    SourceCasing,
    capitalize_first,
    learn_casing,
    read_casing,
    write_casing,
)
from transformer_mt.data.tokenizer import Tokenizer
from transformer_mt.errors import DataError

SOURCES = [
    "Tom likes tea.",
    "I think Tom is here.",
    "Where is Tom?",
    "Ask Tom.",
    "Tom and I watch TV.",
    "We watch TV at night.",
    "They watch TV too.",
    "May I come in?",
    "It may rain.",
    "It may snow.",
    "Rain may come in May.",
    "Paris is big.",  # Paris only as a first word: not learned
    '"Hello," I said.',
]


def test_learns_the_first_letter_and_the_capitalised_words() -> None:
    casing = learn_casing(SOURCES)
    assert (casing.capitalized, casing.lowercase) == (13, 0)
    assert casing.capitalizes_first
    # After the first word: Tom 3 of 3, I 3 of 3, TV 3 of 3; may 3 of 4 in lower case.
    assert casing.words == {"tom": "Tom", "i": "I", "tv": "TV"}


def test_a_word_needs_enough_occurrences_and_a_dominant_capitalised_form() -> None:
    casing = learn_casing(["We saw Anna.", "We saw Anna.", "It may rain.", "In May."])
    assert "anna" not in casing.words  # 2 occurrences < WORD_MIN_COUNT
    mixed = learn_casing(["It may.", "It may.", "In May.", "It May."])  # May: 2 of 4
    assert "may" not in mixed.words


def test_sources_without_a_convention_change_nothing() -> None:
    lower = learn_casing(["hello there.", "good night.", "Fine."])  # 1 of 3 capitalised
    assert not lower.capitalizes_first
    chinese = learn_casing(["你好世界。", "我喜欢喝茶。"])
    assert (chinese.capitalized, chinese.lowercase, chinese.words) == (0, 0, {})
    for casing in (lower, chinese, SourceCasing()):
        assert casing.apply("hello world") == "hello world"
        assert casing.apply("你好 hello") == "你好 hello"


def test_apply_cases_lower_case_words_and_the_first_letter_only() -> None:
    casing = learn_casing(SOURCES)
    assert casing.apply("hello world") == "Hello world"
    assert casing.apply("where is tom? i think he watches tv.") == (
        "Where is Tom? I think he watches TV."
    )
    assert casing.apply("may i?") == "May I?"  # "may" stays lower inside a sentence
    assert casing.apply("it may rain") == "It may rain"
    assert casing.apply("TOM is here") == "TOM is here"  # typed with capitals: left alone
    assert casing.apply("tomorrow, atom") == "Tomorrow, atom"  # whole words only
    assert casing.apply("Hello world") == "Hello world"


def test_capitalize_first_skips_leading_non_letters() -> None:
    assert capitalize_first('"hello," she said') == '"Hello," she said'
    assert capitalize_first("  42 apples") == "  42 Apples"
    assert capitalize_first("¿qué?") == "¿Qué?"
    assert capitalize_first("你好 world") == "你好 world"  # 你 is a letter without case
    assert capitalize_first("...") == "..."


def test_round_trip_and_missing_file(tmp_path: Path) -> None:
    casing = learn_casing(SOURCES)
    path = write_casing(tmp_path, casing)
    assert path.name == CASING_FILE
    assert read_casing(tmp_path) == casing
    assert read_casing(tmp_path / "elsewhere") is None


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not a readable casing file"),
        ('{"capitalized": 1}', "expected capitalized, lowercase and words"),
        ('{"capitalized": 1, "lowercase": 0, "words": {"tom": "Paris"}}', "words must map"),
    ],
)
def test_a_damaged_file_is_a_data_error(tmp_path: Path, content: str, problem: str) -> None:
    (tmp_path / CASING_FILE).write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=problem) as caught:
        read_casing(tmp_path)
    assert CASING_FILE in str(caught.value) and "\n" not in str(caught.value)


def test_the_tokenizer_records_and_reloads_its_sources_casing(tmp_path: Path) -> None:
    pairs = [(source, "汤姆在这里。") for source in SOURCES] * 20
    tokenizer = Tokenizer.train(pairs, tmp_path, vocab_size=100, report=lambda _: None)
    assert tokenizer.source_casing == learn_casing(source for source, _ in pairs)
    assert Tokenizer.load(tmp_path).source_casing == tokenizer.source_casing


def test_the_first_letter_is_read_as_capitalize_first_reads_it() -> None:
    # 你 is the first letter and has no case: neither counted nor changed.
    casing = learn_casing(["你好 world.", "Hello.", "Fine."])
    assert (casing.capitalized, casing.lowercase) == (2, 0)
    assert casing.apply("你好 world") == "你好 world"
