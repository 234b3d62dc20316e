"""SentencePiece pieces as text: the bytes each adds to an output, and the words they form.

A piece adds its characters, ``▁`` (a word start) as a space; a byte-fallback piece
``<0xE4>`` adds one byte. Words are what a reader counts: whitespace-separated tokens, except
that each CJK character (and CJK punctuation) is a word of its own, as Chinese and Japanese are
written without spaces (the segmentation of sacreBLEU's ``zh`` tokenizer and of character-level
Chinese alignment corpora).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from transformer_mt.data.scripts import is_cjk

WORD_START = "\u2581"
_BYTE_PIECE = re.compile(r"<0x([0-9A-F]{2})>")


def piece_bytes(piece: str) -> bytes:
    """The bytes a piece adds to the text (``▁`` as a space, ``<0xNN>`` as that byte)."""
    found = _BYTE_PIECE.fullmatch(piece)
    return bytes([int(found.group(1), 16)]) if found else piece.replace(WORD_START, " ").encode()


def is_word_char(char: str) -> bool:
    """A character that is a word by itself: CJK, or CJK / full-width punctuation."""
    code = ord(char)
    return is_cjk(char) or 0x3000 <= code <= 0x303F or 0xFF00 <= code <= 0xFFEF


def split_words(text: str) -> list[str]:
    """``text``'s words: whitespace tokens, each CJK character one word (the target words of
    an alignment's ``j``).

    >>> split_words("我喜欢 tea, 你呢？")
    ['我', '喜', '欢', 'tea,', '你', '呢', '？']
    """
    return [text[start:end] for start, end in word_spans(text)]


def word_spans(text: str) -> list[tuple[int, int]]:
    """Where each word of :func:`split_words` lies in ``text``: ``(start, end)`` offsets."""
    spans: list[tuple[int, int]] = []
    start = None
    for position, char in enumerate(text):
        if char.isspace() or is_word_char(char):
            if start is not None:
                spans.append((start, position))
            start = None
            if not char.isspace():
                spans.append((position, position + 1))
        elif start is None:
            start = position
    return [*spans, (start, len(text))] if start is not None else spans


def token_words(surfaces: Sequence[bytes]) -> list[list[int]]:
    """For each token (the bytes it adds), the indices of the words of the joined text that it
    spells a character of (none for ``</s>`` or a lone space; a character split over byte
    pieces belongs to the token holding its first byte)."""
    owners: list[list[int]] = [[] for _ in surfaces]
    text = b"".join(surfaces)
    starts = [0]
    for surface in surfaces:
        starts.append(starts[-1] + len(surface))
    token, word, in_word, position = 0, -1, False, 0
    while position < len(text):
        width = _utf8_width(text[position])
        char = text[position : position + width].decode("utf-8", errors="replace")
        while starts[token + 1] <= position:
            token += 1
        if char.isspace():
            in_word = False
        else:
            if is_word_char(char) or not in_word:
                word += 1
            in_word = not is_word_char(char)
            if not owners[token] or owners[token][-1] != word:
                owners[token].append(word)
        position += width
    return owners


def _utf8_width(lead: int) -> int:
    if lead >= 0xF0:
        return 4
    if lead >= 0xE0:
        return 3
    return 2 if lead >= 0xC0 else 1
