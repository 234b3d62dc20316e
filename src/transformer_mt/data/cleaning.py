"""Cleaning a training corpus: filters that drop bad pairs, each counted in a report.

Text filters look at the two sentences (:class:`TextFilter`, applied while reading); duplicates
are found from 8-byte digests of every pair (:func:`first_occurrences`, numpy over the whole
corpus, no Python set); token filters look at the tokenized lengths (:func:`token_verdicts`).
A pair is counted under the first filter that drops it, in the order of :data:`FILTERS`.

Shape letters: N pairs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from transformer_mt.errors import UserError

FILTERS = ("empty", "control", "identical", "language", "duplicates", "length", "ratio")
"""Every filter, in the order they are applied:

- ``empty``: a side empty or only whitespace;
- ``control``: a control character (C0 or C1, other than tab and newline) on either side;
- ``identical``: the source equals the target (copied, untranslated text);
- ``language``: py3langid does not find the configured language on a side;
- ``duplicates``: the same (source, target) pair seen before (the first one is kept);
- ``length``: a side longer than ``max_length`` tokens (with its special token);
- ``ratio``: one side more than ``max_ratio`` times longer than the other, in tokens.
"""
TEXT_FILTERS = ("empty", "control", "identical", "language")
TOKEN_FILTERS = ("length", "ratio")
DEFAULT_FILTERS = ("empty", "control", "identical", "duplicates", "length", "ratio")

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class CleaningOptions:
    """Which filters run, and their thresholds."""

    filters: tuple[str, ...] = DEFAULT_FILTERS
    max_length: int = 128  # tokens per side, its special token included
    max_ratio: float = 9.0  # longer side / shorter side, in tokens with specials
    languages: tuple[str, str] | None = None  # (source, target) py3langid codes for "language"

    def __post_init__(self) -> None:
        unknown = [name for name in self.filters if name not in FILTERS]
        if unknown:
            raise UserError(f"unknown cleaning filter(s) {unknown}; valid: {list(FILTERS)}")
        if "language" in self.filters and self.languages is None:
            raise UserError("the language filter needs data.languages: [source, target] codes")

    def on(self, name: str) -> bool:
        return name in self.filters


@dataclass
class CleaningReport:
    """How many pairs were read, each filter dropped, and were kept."""

    read: int = 0
    invalid: int = 0  # malformed rows skipped under skip_invalid (not counted in read)
    dropped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FILTERS, 0))

    @property
    def kept(self) -> int:
        return self.read - sum(self.dropped.values())

    def to_dict(self) -> dict[str, Any]:
        return {"read": self.read, "invalid": self.invalid, "kept": self.kept, **self.dropped}

    def lines(self, options: CleaningOptions) -> list[str]:
        """The printed report: one line per filter (off ones say so)."""
        rows = [f"cleaning: {self.read} pairs read, {self.kept} kept"]
        if self.invalid:
            rows.append(f"  {'invalid':<11} {self.invalid:>10}  (malformed rows, skip_invalid)")
        for name in FILTERS:
            count = self.dropped[name]
            share = f"{100 * count / max(self.read, 1):6.2f}%"
            rows.append(
                f"  {name:<11} {count:>10}  {share}" if options.on(name) else f"  {name:<11} off"
            )
        return rows


class TextFilter:
    """The text filters of ``options``: :meth:`verdict` names the first that drops a pair."""

    def __init__(self, options: CleaningOptions) -> None:
        self.options = options
        self._language = (
            LanguageCheck(options.languages)
            if options.on("language") and options.languages
            else None
        )

    def verdict(self, source: str, target: str) -> str | None:
        """The name of the filter that drops ``(source, target)``, or None to keep it."""
        options = self.options
        if options.on("empty") and (not source.strip() or not target.strip()):
            return "empty"
        if options.on("control") and (_CONTROL.search(source) or _CONTROL.search(target)):
            return "control"
        if options.on("identical") and source == target:
            return "identical"
        if self._language is not None and not self._language.matches(source, target):
            return "language"
        return None


class LanguageCheck:
    """py3langid (its model ships in its wheel: no download) against two expected languages."""

    def __init__(self, languages: tuple[str, str]) -> None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]  # no stubs

        self.identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
        unknown = [code for code in languages if code not in self.identifier.labels]
        if unknown:
            raise UserError(
                f"data.languages: py3langid does not know {unknown}; "
                f"it knows {', '.join(sorted(self.identifier.labels))}"
            )
        self.source, self.target = languages

    def matches(self, source: str, target: str) -> bool:
        identify = self.identifier.classify
        return identify(source)[0] == self.source and identify(target)[0] == self.target


def pair_digest(source: str, target: str) -> int:
    """An 8-byte digest of a pair, the same in every process (unlike ``hash``)."""
    data = f"{source}\t{target}".encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def first_occurrences(digests: np.ndarray) -> np.ndarray:
    """(N,) bool: True where a digest appears for the first time."""
    keep = np.zeros(len(digests), dtype=bool)
    _, first = np.unique(digests, return_index=True)  # first: (U,) index of each first one
    keep[first] = True
    return keep


def token_verdicts(
    source_lengths: np.ndarray, target_lengths: np.ndarray, options: CleaningOptions
) -> np.ndarray:
    """(N,) uint8: 0 keeps a pair, else 1 + the index in :data:`FILTERS` of the token filter
    that drops it. Lengths are token counts without specials."""
    source = source_lengths.astype(np.int64) + 1  # (N,) with </s>, as batched
    target = target_lengths.astype(np.int64) + 1  # (N,)
    verdicts = np.zeros(len(source), dtype=np.uint8)
    if options.on("ratio"):
        longer, shorter = np.maximum(source, target), np.minimum(source, target)
        verdicts[longer > options.max_ratio * shorter] = 1 + FILTERS.index("ratio")
    if options.on("length"):  # counted before ratio, like the filter order
        too_long = (source > options.max_length) | (target > options.max_length)
        verdicts[too_long] = 1 + FILTERS.index("length")
    return verdicts


def count_verdicts(verdicts: np.ndarray, report: CleaningReport) -> None:
    """Add the drops of :func:`token_verdicts` to ``report``."""
    counts = np.bincount(verdicts, minlength=len(FILTERS) + 1)
    for index, name in enumerate(FILTERS):
        report.dropped[name] += int(counts[index + 1])
