"""Writing systems: which characters are CJK, and whether a text is mostly written in them.

Chinese and Japanese are written without spaces between words: BLEU tokenises them by
character (sacreBLEU's ``zh``), the stutter measure compares characters, and translated
sentences of a document are joined without a space.
"""

from __future__ import annotations

from collections.abc import Iterable

_CJK_RANGES = (
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0x3400, 0x4DBF),  # extension A
    (0x3040, 0x30FF),  # kana
    (0xAC00, 0xD7AF),  # hangul
    (0xF900, 0xFAFF),  # compatibility ideographs
)


def is_cjk(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK_RANGES)


def mostly_cjk(texts: Iterable[str]) -> bool:
    """Whether over a third of the texts' non-space characters are CJK."""
    text = "".join("".join(t.split()) for t in texts)
    return bool(text) and sum(map(is_cjk, text)) / len(text) > 1 / 3
