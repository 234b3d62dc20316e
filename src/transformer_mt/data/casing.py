"""Input letter case as the training sources write it ("hello world" -> "Hello world").

A model learns the casing conventions of its training sources: every English sentence of the
built-in Tatoeba data starts with a capital letter and writes "Tom", "I" and "English"
capitalised, so lower-case input is text it has never seen ("hello world" -> 他会世界。 where
"Hello world" gets 你好世界。). Training records the sources' conventions next to the tokenizer
(:data:`CASING_FILE`), and translation makes the input match them (unless the user asks to keep
the case as typed, ``DecodingOptions.keep_case``):

- **the first letter** is capitalised where at least :data:`FIRST_SHARE` of the training
  sources that start with a cased letter start with a capital;
- **a word typed all in lower case** takes the form the training sources give it where one
  capitalised form makes up at least :data:`WORD_SHARE` of its :data:`WORD_MIN_COUNT` or more
  occurrences after the first word ("tom" -> "Tom", "i" -> "I", "tv" -> "TV"; "may" stays).

A word the user typed with a capital letter is left alone, and scripts without case (Chinese)
learn nothing, so nothing changes for them. This is a truecaser in the sense of Lita et al.
(2003) learned from the sources themselves, applied only in the direction the data asks for.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from transformer_mt.errors import DataError

CASING_FILE = "source-casing.json"  # in the tokenizer directory
FIRST_SHARE = 0.95  # capitalise the first letter when this share of sources do
WORD_SHARE = 0.9  # a word's capitalised form must make up this share of its occurrences
WORD_MIN_COUNT = 3  # ... and the word must occur this often (after the first word)

_WORD = re.compile(r"[^\W\d_]+")  # a run of letters


@dataclass(frozen=True)
class SourceCasing:
    """The casing conventions of a training corpus's sources.

    ``capitalized`` / ``lowercase``: sources whose first letter is upper / lower case (a
    letter without case, 你, counts as neither);
    ``words``: lower-case word -> the capitalised form the sources give it.
    """

    capitalized: int = 0
    lowercase: int = 0
    words: dict[str, str] = field(default_factory=dict)

    @property
    def capitalizes_first(self) -> bool:
        """Whether the sources (nearly) always start with a capital letter."""
        cased = self.capitalized + self.lowercase
        return cased > 0 and self.capitalized >= FIRST_SHARE * cased

    def apply(self, text: str) -> str:
        """``text`` with its all-lower-case words and first letter cased as the sources case
        them (unchanged where the sources have no such convention)."""
        if self.words:
            text = _WORD.sub(lambda match: self.words.get(match.group(), match.group()), text)
        if self.capitalizes_first:
            text = capitalize_first(text)
        return text


def capitalize_first(text: str) -> str:
    """``text`` with its first letter in upper case (leading quotes, spaces and other
    non-letters kept): ``'"hello" he said'`` -> ``'"Hello" he said'``."""
    for index, char in enumerate(text):
        if char.isalpha():
            return text[:index] + char.upper() + text[index + 1 :] if char.islower() else text
    return text


def learn_casing(sources: Iterable[str]) -> SourceCasing:
    """The casing conventions of ``sources`` (see the module's rules)."""
    capitalized = lowercase = 0
    forms: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for text in sources:
        first = next((char for char in text if char.isalpha()), "")  # as capitalize_first reads
        capitalized += first.isupper()
        lowercase += first.islower()
        for match in list(_WORD.finditer(text))[1:]:
            word = match.group()
            forms[word.lower()][word] += 1
    words = {}
    for key, counts in forms.items():
        form, count = counts.most_common(1)[0]
        total = counts.total()
        if form != key and total >= WORD_MIN_COUNT and count >= WORD_SHARE * total:
            words[key] = form
    return SourceCasing(capitalized, lowercase, words)


def write_casing(directory: Path, casing: SourceCasing) -> Path:
    """Store ``casing`` as ``directory/source-casing.json``."""
    path = directory / CASING_FILE
    content = {
        "capitalized": casing.capitalized,
        "lowercase": casing.lowercase,
        "words": dict(sorted(casing.words.items())),
    }
    path.write_text(json.dumps(content, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def read_casing(directory: Path) -> SourceCasing | None:
    """The conventions :func:`write_casing` stored; ``None`` where the directory has none (a
    run trained before they were recorded, or an imported model)."""
    path = directory / CASING_FILE
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(path, None, f"not a readable casing file ({error})") from None
    try:
        words = content["words"]
        casing = SourceCasing(int(content["capitalized"]), int(content["lowercase"]), words)
    except (KeyError, TypeError, ValueError) as error:
        raise DataError(
            path, None, f"expected capitalized, lowercase and words ({error})"
        ) from None
    if not all(
        isinstance(k, str) and isinstance(v, str) and k == v.lower() for k, v in words.items()
    ):
        raise DataError(path, None, "words must map lower-case words to their cased forms")
    return casing
