"""Sentence pairs and train/valid/test splits: the shape every data source produces."""

from __future__ import annotations

from dataclasses import dataclass

SentencePair = tuple[str, str]
"""One translation example: ``(source, target)``."""


@dataclass(frozen=True)
class Splits:
    """A parallel corpus divided into training, validation and test pairs."""

    train: list[SentencePair]
    valid: list[SentencePair]
    test: list[SentencePair]

    def reversed(self) -> Splits:
        """Return the same splits with source and target swapped (e.g. en-zh -> zh-en)."""
        return Splits(
            train=_swap(self.train),
            valid=_swap(self.valid),
            test=_swap(self.test),
        )


def _swap(pairs: list[SentencePair]) -> list[SentencePair]:
    return [(target, source) for source, target in pairs]
