"""Synthetic sequence-to-sequence tasks for measuring long-range dependencies.

Sources are random strings of ``symbols`` content tokens (ids from :data:`FIRST_SYMBOL`, after
the special tokens ``<pad> <unk> <s> </s>``). Targets:

- ``copy``: the source itself;
- ``reverse``: the source reversed (the first output depends on the last input);
- ``agreement``: the source followed by the *partner* of the first source token (a symbol of
  its own range, ``symbol + symbols``), like a verb agreeing with a subject at the start of the
  sentence: the last output depends on an input ``length`` positions away and cannot be copied
  from nearby. (It is appended rather than replacing the last token so that where it goes is
  plain from the copy; only *what* it is needs the long-range look-up.)
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from transformer_mt.data.tokenizer import EOS_ID

TASKS = ("copy", "reverse", "agreement")
FIRST_SYMBOL = EOS_ID + 1  # ids below are <pad> <unk> <s> </s>


@dataclass(frozen=True)
class SyntheticTask:
    name: str  # copy | reverse | agreement
    symbols: int = 16  # distinct content tokens in sources

    def __post_init__(self) -> None:
        if self.name not in TASKS:
            raise ValueError(f"unknown synthetic task {self.name!r}; choose from {TASKS}")
        if self.symbols < 2:
            raise ValueError("symbols must be at least 2")

    @property
    def vocab_size(self) -> int:
        """Specials, source symbols and their agreement partners."""
        return FIRST_SYMBOL + 2 * self.symbols

    def target(self, source: Sequence[int]) -> list[int]:
        """The correct output for ``source`` (content ids, no specials)."""
        if self.name == "copy":
            return list(source)
        if self.name == "reverse":
            return list(reversed(source))
        return [*source, source[0] + self.symbols]

    def sample(
        self, count: int, min_length: int, max_length: int, seed: int
    ) -> tuple[list[list[int]], list[list[int]]]:
        """``count`` random sources with lengths uniform in ``[min_length, max_length]`` and
        their targets; the same for the same seed."""
        if not 2 <= min_length <= max_length:
            raise ValueError(f"need 2 <= min_length <= max_length, got {min_length}, {max_length}")
        rng = random.Random(seed)
        sources = []
        for _ in range(count):
            length = rng.randint(min_length, max_length)
            sources.append([FIRST_SYMBOL + rng.randrange(self.symbols) for _ in range(length)])
        return sources, [self.target(source) for source in sources]


@dataclass(frozen=True)
class SequenceScores:
    sequence_accuracy: float  # outputs equal to the target, in [0, 1]
    token_accuracy: float  # target positions predicted correctly (position by position)
    last_token_accuracy: float  # the final target token (agreement: the long-range one)


def score_outputs(
    outputs: Sequence[Sequence[int]], targets: Sequence[Sequence[int]]
) -> SequenceScores:
    """Compare model outputs (``</s>`` already removed) with targets of the same examples."""
    if len(outputs) != len(targets) or not targets:
        raise ValueError("need one output per target and at least one target")
    exact = sum(
        list(output) == list(target) for output, target in zip(outputs, targets, strict=True)
    )
    correct = sum(
        sum(o == t for o, t in zip(output, target, strict=False))
        for output, target in zip(outputs, targets, strict=True)
    )
    total = sum(len(target) for target in targets)
    last = sum(
        len(output) >= len(target) and output[len(target) - 1] == target[-1]
        for output, target in zip(outputs, targets, strict=True)
    )
    count = len(targets)
    return SequenceScores(exact / count, correct / total, last / count)
