"""Each cleaning filter on hand-made pairs, and the report that counts them."""

from __future__ import annotations

import numpy as np
import pytest

from transformer_mt.data import cleaning
from transformer_mt.data.cleaning import FILTERS, CleaningOptions, CleaningReport, TextFilter
from transformer_mt.errors import UserError

ALL_TEXT = CleaningOptions(filters=FILTERS, languages=("en", "zh"))


@pytest.mark.parametrize(
    ("source", "target", "verdict"),
    [
        ("I drink tea every morning.", "我每天早上喝茶。", None),
        ("", "我喝茶。", "empty"),
        ("I drink tea.", " \t ", "empty"),
        ("I drink\x07 tea.", "我喝茶。", "control"),
        ("I drink tea.", "我喝\x85茶。", "control"),  # C1 control (NEL)
        ("Microsoft Windows 11", "Microsoft Windows 11", "identical"),
        ("Je bois du thé tous les matins avec mes amis.", "我每天早上喝茶。", "language"),
        ("I drink tea every morning.", "I drink tea every morning with friends.", "language"),
    ],
)
def test_text_filters(source: str, target: str, verdict: str | None) -> None:
    assert TextFilter(ALL_TEXT).verdict(source, target) == verdict


def test_a_switched_off_filter_keeps_the_pair() -> None:
    only_empty = CleaningOptions(filters=("empty",))
    assert TextFilter(only_empty).verdict("same", "same") is None
    assert TextFilter(only_empty).verdict("a\x00b", "c") is None


def test_duplicates_keep_the_first_occurrence() -> None:
    pairs = [("a", "b"), ("a", "c"), ("a", "b"), ("a\tb", ""), ("a", "b")]
    digests = np.array([cleaning.pair_digest(*pair) for pair in pairs], dtype=np.uint64)
    assert cleaning.first_occurrences(digests).tolist() == [True, True, False, True, False]


def test_length_and_ratio_count_specials_and_length_comes_first() -> None:
    options = CleaningOptions(max_length=10, max_ratio=3.0)
    sources = np.array([4, 9, 10, 1, 20])  # + </s>: 5, 10, 11, 2, 21
    targets = np.array([4, 2, 4, 6, 1])  # + special: 5, 3, 5, 7, 2
    verdicts = cleaning.token_verdicts(sources, targets, options)
    names = [None if v == 0 else FILTERS[v - 1] for v in verdicts]
    # 10/3 > 3: ratio; 11 > 10: length; 7/2 > 3: ratio; 21: length (before ratio).
    assert names == [None, "ratio", "length", "ratio", "length"]
    report = CleaningReport(read=5)
    cleaning.count_verdicts(verdicts, report)
    assert (report.dropped["length"], report.dropped["ratio"], report.kept) == (2, 2, 1)


def test_report_lines_show_off_filters() -> None:
    report = CleaningReport(read=4)
    report.dropped["duplicates"] = 1
    lines = report.lines(CleaningOptions(filters=("duplicates",)))
    assert lines[0] == "cleaning: 4 pairs read, 3 kept"
    assert "  duplicates           1   25.00%" in lines
    assert "  ratio       off" in lines


def test_bad_options_are_user_errors() -> None:
    with pytest.raises(UserError, match="unknown cleaning filter"):
        CleaningOptions(filters=("typos",))
    with pytest.raises(UserError, match=r"language filter needs data\.languages"):
        CleaningOptions(filters=("language",))
    with pytest.raises(UserError, match="py3langid does not know"):
        TextFilter(CleaningOptions(filters=("language",), languages=("en", "klingon")))
