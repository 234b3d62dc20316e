"""Doubled characters: which characters a language doubles ("妈妈", "慢慢", "天天"), read from
the training data's target side.

Chinese doubles some characters on purpose (reduplication) and never others: a model's "喝水水"
or "帐帐单" is a stutter that the three-in-a-row rule of
:mod:`transformer_mt.evaluation.repetition` does not see and that a cap of two tokens in a row
lets through. The training targets say which doubles are real: on the built-in data 312 characters
occur doubled (妈妈 164 times, 天天 39, 慢慢 27, ...). Training stores that set next to the
tokenizer (:data:`DOUBLES_FILE`); decoding may then forbid every other double
(``DecodingOptions.no_unseen_doubles``) and ``evaluate`` counts the outputs that hold one.

Only CJK characters count: spaced scripts double letters inside words all the time ("ll").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from transformer_mt.errors import DataError

DOUBLES_FILE = "target-doubles.tsv"  # in the tokenizer directory: character<TAB>count lines

_IDEOGRAPH = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK unified, extension A, compatibility
_DOUBLED = re.compile(f"([{_IDEOGRAPH}])\\1")  # an ideograph written twice in a row
_IS_IDEOGRAPH = re.compile(f"[{_IDEOGRAPH}]")


def is_ideograph(char: str) -> bool:
    """Whether ``char`` is a CJK ideograph: the characters whose doubles are counted."""
    return _IS_IDEOGRAPH.fullmatch(char) is not None


def doubles_in(text: str) -> list[str]:
    """The characters ``text`` doubles, in order (one entry per double; spaces between them
    ignored: a tokenized "妈 妈" is still a double)."""
    return [match.group(1) for match in _DOUBLED.finditer("".join(text.split()))]


def doubled_characters(texts: Iterable[str]) -> Counter[str]:
    """How often each CJK character occurs doubled in ``texts``."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(doubles_in(text))
    return counts


def write_doubles(directory: Path, counts: Counter[str]) -> Path:
    """Store ``counts`` as ``directory/target-doubles.tsv``, most frequent first."""
    path = directory / DOUBLES_FILE
    lines = [f"{char}\t{count}\n" for char, count in sorted(counts.items(), key=_by_count)]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def read_doubles(directory: Path) -> frozenset[str] | None:
    """The characters stored by :func:`write_doubles`; ``None`` where the directory has no such
    file (a run trained before it existed, or an imported model without training data)."""
    path = directory / DOUBLES_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(path, None, f"not a readable doubles file ({error})") from None
    chars = []
    for number, line in enumerate(text.splitlines(), start=1):
        char, _, count = line.partition("\t")
        if len(char) != 1 or not count.isdigit():
            raise DataError(path, number, f"expected 'character<TAB>count', got {line!r}")
        chars.append(char)
    return frozenset(chars)


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    char, count = item
    return -count, char
