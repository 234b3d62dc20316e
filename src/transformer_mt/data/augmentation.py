"""Training pairs as users type their input: copies without the final punctuation or with a
lower-case first letter.

Curated corpora such as Tatoeba write every English sentence with a capital letter and a final
full stop, so a model trained on them has never seen "Hello world" or "hello world", and it
answers them badly: the quick-start model writes 你好世界好好。 for "Hello world" and
他世界各地。 for "hello world", where "Hello, world!" gets 你好，世界！. On its test split BLEU
falls by 3.1 without the final punctuation, by 2.4 with a lower-case first letter and by 5.3 with
both (``benchmarks/input_robustness.py``). ``prepare`` can therefore add, after each kept pair
and with the configured probabilities, a copy without the final punctuation on both sides (the
target then ends without its "。" as well: no stop in, no stop out) and a copy whose source starts
in lower case. A copy equal to its pair (nothing to strip, a script without case) is not added.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from transformer_mt.data.pairs import SentencePair

# Sentence-final punctuation, Latin and CJK, with any closing quotes after it.
_FINAL = re.compile(r"\s*[.!?;。！？；…]+[\"'”’」』)）]*\s*$")


@dataclass(frozen=True)
class Augmentation:
    """How often each kind of copy is added (0 = never, 1 = after every pair)."""

    unpunctuated: float = 0.0  # a copy without the final punctuation (both sides)
    lowercased: float = 0.0  # a copy whose source starts with a lower-case letter
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("unpunctuated", "lowercased"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")

    @property
    def active(self) -> bool:
        return self.unpunctuated > 0.0 or self.lowercased > 0.0


def without_final_punctuation(text: str) -> str:
    """``text`` without its sentence-final punctuation (and the closing quotes after it)."""
    return _FINAL.sub("", text)


def lowercase_first(text: str) -> str:
    """``text`` with its first character in lower case ("Hello" -> "hello")."""
    return text[:1].lower() + text[1:]


def augmented(pairs: Iterable[SentencePair], augmentation: Augmentation) -> Iterator[SentencePair]:
    """Each pair, followed by the copies ``augmentation`` draws for it. Deterministic: the same
    pairs and seed give the same copies (two draws per pair, whatever is added)."""
    rng = random.Random(augmentation.seed)
    for source, target in pairs:
        yield source, target
        strip, lower = rng.random(), rng.random()
        if strip < augmentation.unpunctuated:
            copy = without_final_punctuation(source), without_final_punctuation(target)
            if copy != (source, target) and copy[0] and copy[1]:
                yield copy
        if lower < augmentation.lowercased:
            lowered = lowercase_first(source)
            if lowered != source:
                yield lowered, target
