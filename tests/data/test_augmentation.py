"""Augmented training pairs: the copies, their rates and their determinism."""

import pytest

from transformer_mt.data.augmentation import (
    Augmentation,
    augmented,
    lowercase_first,
    without_final_punctuation,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, world!", "Hello, world"),
        ("你好，世界！", "你好，世界"),
        ('He said "Stop."', 'He said "Stop'),
        ("我说：「好。」", "我说：「好"),
        ("Wait...", "Wait"),
        ("No stop", "No stop"),
        ("Is it 3.5?", "Is it 3.5"),
    ],
)
def test_final_punctuation_goes(text: str, expected: str) -> None:
    assert without_final_punctuation(text) == expected


def test_lowercase_first() -> None:
    assert lowercase_first("Hello World") == "hello World"
    assert lowercase_first("你好") == "你好"
    assert lowercase_first("") == ""


def test_every_pair_gets_both_copies_at_rate_one() -> None:
    pairs = [("Hello world.", "你好世界。"), ("你好。", "Hello.")]
    out = list(augmented(pairs, Augmentation(unpunctuated=1.0, lowercased=1.0)))
    assert out == [
        ("Hello world.", "你好世界。"),
        ("Hello world", "你好世界"),
        ("hello world.", "你好世界。"),
        ("你好。", "Hello."),
        ("你好", "Hello"),  # a Chinese source has no case: no lower-cased copy
    ]


def test_no_copy_that_equals_its_pair_or_empties_a_side() -> None:
    pairs = [("no stop", "没有"), ("!", "！")]
    assert list(augmented(pairs, Augmentation(unpunctuated=1.0))) == pairs


def test_rates_and_determinism() -> None:
    pairs = [(f"Sentence {i}.", f"句子{i}。") for i in range(4000)]
    options = Augmentation(unpunctuated=0.1, lowercased=0.2, seed=3)
    first = list(augmented(pairs, options))
    assert first == list(augmented(pairs, options))
    unpunctuated = sum(not s.endswith(".") for s, _ in first)
    lowered = sum(s.startswith("s") for s, _ in first)
    assert 300 < unpunctuated < 500 and 680 < lowered < 920  # ~400 and ~800 of 4,000
    assert list(augmented(pairs, Augmentation())) == pairs


def test_rates_are_checked() -> None:
    with pytest.raises(ValueError, match="lowercased must be in"):
        Augmentation(lowercased=1.5)
