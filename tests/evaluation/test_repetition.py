"""The stutter measure on hand-picked Chinese and English outputs."""

from __future__ import annotations

import pytest

from transformer_mt.evaluation.repetition import stutter_rate, stutters


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("你好世界世界。", True),  # a repeated 2-character chunk
        ("我喜欢喝水水水。", True),  # a character three times
        ("我奶奶奶每周都写信。", True),
        ("我奶奶每周都写信。", False),  # 奶奶 (grandmother) is a word
        ("谢谢你。", False),
        ("我喜欢我喜欢的书", True),
        ("现在 是 八 点 。", False),
    ],
)
def test_chinese_outputs(text: str, expected: bool) -> None:
    assert stutters(text, cjk=True) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the the cat sleeps", True),
        ("A man in a man in the park.", True),
        ("go go go", True),
        ("I had had enough.", False),
        ("Mississippi is long.", False),  # characters repeat, words do not
        ("Bye bye!", False),
        ("The dog saw the cat.", False),
    ],
)
def test_word_outputs(text: str, expected: bool) -> None:
    assert stutters(text, cjk=False) is expected


def test_the_rate_picks_the_rule_from_the_text() -> None:
    assert stutter_rate(["你好世界世界。", "你好世界。", "水水水", "谢谢。"]) == 0.5
    assert stutter_rate(["the the cat", "a dog"]) == 0.5
    assert stutter_rate([]) == 0.0
