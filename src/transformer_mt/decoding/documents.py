"""Documents: paragraphs split into sentences for translation, and joined back afterwards.

A model translates one sentence at a time and has a maximum length; a user's paragraph has
several sentences, and sometimes one sentence longer than the model can take. Each paragraph is
split into sentences (``pysbd``'s rules for text in spaced scripts, with its abbreviations,
decimals and quotes; for Chinese and Japanese, after 。！？ and any closing quotes or brackets
that follow). A sentence that is still too long for the model is split at clause marks
(，；：, ; :), then between words, and as a last resort into equal pieces, instead of being cut.
The translated pieces are joined with a space, or without one when the translation is
written in CJK characters.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from transformer_mt.data.scripts import mostly_cjk

_CJK_SENTENCE = re.compile(r"[^。！？!?…]*(?:[。！？!?…]+[”’」』）)\]]*|$)")
_CLAUSE_MARK = re.compile(r"(?<=[，；：、,;:])")


@dataclass(frozen=True)
class Segments:
    """The pieces of each paragraph, in order: ``pieces[counts[0]:counts[0]+counts[1]]`` is the
    second paragraph."""

    pieces: list[str]
    counts: list[int]


def split_paragraphs(paragraphs: list[str], fits: Callable[[str], bool]) -> Segments:
    """Every paragraph's sentences, each split further until ``fits(piece)``."""
    pieces: list[str] = []
    counts: list[int] = []
    for paragraph in paragraphs:
        parts = [
            piece
            for sentence in split_sentences(paragraph)
            for piece in split_to_fit(sentence, fits)
        ]
        pieces.extend(parts)
        counts.append(len(parts))
    return Segments(pieces, counts)


def join_paragraphs(translations: list[str], counts: list[int]) -> list[str]:
    """The translated pieces back into one string per paragraph."""
    joined, start = [], 0
    for count in counts:
        parts = [part for part in translations[start : start + count] if part]
        joined.append(("" if mostly_cjk(parts) else " ").join(parts))
        start += count
    return joined


def split_sentences(paragraph: str) -> list[str]:
    """The sentences of ``paragraph`` (surrounding spaces removed; none for a blank one)."""
    if not paragraph.strip():
        return []
    if mostly_cjk([paragraph]):
        found = _CJK_SENTENCE.findall(paragraph)
    else:
        found = _segmenter().segment(paragraph)
    return [sentence.strip() for sentence in found if sentence.strip()]


def split_to_fit(sentence: str, fits: Callable[[str], bool]) -> list[str]:
    """``sentence`` whole if it fits, else split at clause marks, then between words, then into
    halves, recursively, until every piece fits."""
    if fits(sentence) or len(sentence) <= 1:
        return [sentence]
    for parts in (_CLAUSE_MARK.split(sentence), sentence.split(" ")):
        parts = [part.strip() for part in parts if part.strip()]
        if len(parts) > 1:
            return [piece for group in _halves(parts) for piece in split_to_fit(group, fits)]
    middle = len(sentence) // 2
    return split_to_fit(sentence[:middle], fits) + split_to_fit(sentence[middle:], fits)


def _halves(parts: list[str]) -> list[str]:
    """``parts`` regrouped into two runs of about equal length (the split is retried on each
    run, so pieces stay as long as the model allows)."""
    middle = len(parts) // 2
    glue = "" if mostly_cjk(parts) else " "
    return [glue.join(parts[:middle]), glue.join(parts[middle:])]


@functools.cache
def _segmenter() -> Any:
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=False)
