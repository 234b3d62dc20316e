"""Our SentencePiece normalisation equals nmt_nfkc except that it keeps full-width punctuation."""

from __future__ import annotations

import pytest
import sentencepiece as spm

from transformer_mt.data.normalization import (
    KEPT_CHARACTERS,
    builtin_nmt_nfkc,
    punctuation_keeping_normalizer,
)


@pytest.fixture(scope="module")
def ours() -> spm.SentencePieceNormalizer:
    spec = punctuation_keeping_normalizer().serialized_normalizer_spec()
    # The trainer wraps text in whitespace handling; compare the character mapping alone.
    return spm.SentencePieceNormalizer(
        normalizer_spec=spec,
        add_dummy_prefix=False,
        escape_whitespaces=False,
        remove_extra_whitespaces=False,
    )


@pytest.mark.parametrize(
    "text",
    [
        "Hello, world!",
        "ＡＢＣ１２３",  # full-width letters and digits fold to ASCII
        "ﬁne ① ½ ㎡",  # compatibility characters
        "e\u0301 A\u030a",  # canonical compositions: é, Å
        "한국어 \u1100\u1161\u11a8",  # Hangul syllables and conjoining jamo
        "tab\there zero\u200bwidth",
        "我们试试看。「引号」《书名》",
    ],
)
def test_same_as_nmt_nfkc_without_kept_characters(
    ours: spm.SentencePieceNormalizer, text: str
) -> None:
    assert ours.normalize(text) == builtin_nmt_nfkc().normalize(text)


def test_full_width_punctuation_and_ellipsis_are_kept(ours: spm.SentencePieceNormalizer) -> None:
    text = "你好，世界！真的？是的：（好）；……～"
    assert ours.normalize(text) == text
    assert builtin_nmt_nfkc().normalize(text) != text  # what nmt_nfkc would have done


def test_kept_characters_are_the_ones_nmt_nfkc_changes() -> None:
    builtin = builtin_nmt_nfkc()
    changed = [c for c in sorted(KEPT_CHARACTERS) if builtin.normalize(c) != c]
    assert "，" in KEPT_CHARACTERS and "…" in KEPT_CHARACTERS
    assert len(changed) >= len(KEPT_CHARACTERS) - 1  # ～ (U+FF5E) is already left alone


def test_spec_does_not_record_a_temporary_file_path() -> None:
    spec = punctuation_keeping_normalizer().serialized_normalizer_spec()
    assert b"rules.tsv" not in spec
