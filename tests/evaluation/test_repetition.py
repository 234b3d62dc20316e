"""The stutter measure on hand-picked Chinese and English outputs."""

from __future__ import annotations

import pytest

from transformer_mt.evaluation.repetition import (
    repetition_measures,
    stutter_rate,
    stutters,
    unseen_double_rate,
)


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


def test_unseen_doubles_count_only_characters_the_training_data_never_doubles() -> None:
    allowed = frozenset("妈慢")
    outputs = ["我喝水水。", "妈妈慢慢走。", "帐帐单", "好的"]
    assert unseen_double_rate(outputs, allowed) == 0.5
    assert unseen_double_rate([], allowed) == 0.0


def test_measures_add_unseen_doubles_only_when_known() -> None:
    outputs, references = ["我喝水水。", "水水水"], ["我喝水。", "水"]
    without = repetition_measures(outputs, references, cjk=True, doubles=None)
    assert without == {"stutter": 0.5, "reference_stutter": 0.0}
    known = repetition_measures(outputs, references, cjk=True, doubles=frozenset())
    assert known["unseen_doubles"] == 1.0 and known["reference_unseen_doubles"] == 0.0
