"""Terminology constraints: which terms a hypothesis has written, and the beam's banks.

Lexically constrained decoding with dynamic beam allocation (Post and Vilar 2018, fairseq's
``--constraints``): every hypothesis is in the *bank* of the constraint progress it has made,
and the beam is shared out among the banks at every step (:func:`striped_order`), so that
hypotheses that have written more of the terms survive next to the model's favourites.

A term is met when its text appears in the output, however the model segmented it: progress is
matched on the output's bytes (each token's piece, ``▁`` as a space), not on token ids. A
target tokenizer spells "喝茶" as one piece or as "喝" + "茶"; both meet the term "茶". Each
term also carries its own tokenization from every point of progress (its *continuations*):
those are the tokens the search proposes to start or continue it.

A hypothesis's state is a tuple with one progress per term: the bytes of the term that the
output ends with (a Knuth-Morris-Pratt automaton over the term's bytes), or the term's length
once it appeared (met, for good).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Progress = tuple[int, ...]  # per term: bytes matched at the output's end; len(surface) = met


@dataclass(frozen=True)
class Term:
    """One target phrase that the output must contain."""

    text: str  # as the user wrote it
    surface: bytes  # the bytes it adds to the output (UTF-8, a word start as a space)
    # continuations[k]: the term's tokens after its first k bytes (0: the whole term)
    continuations: tuple[tuple[int, ...], ...]

    @property
    def tokens(self) -> tuple[int, ...]:
        """The term's own tokenization (inside a sentence)."""
        return self.continuations[0]


class TermMatcher:
    """Advances one term's progress by whole tokens (memoised: the same few pairs recur)."""

    def __init__(self, term: Term, token_bytes: Sequence[bytes]) -> None:
        self.term = term
        self.length = len(term.surface)
        self._token_bytes = token_bytes
        self._failure = _failure_table(term.surface)
        self._memo: dict[tuple[int, int], int] = {}

    def advance(self, progress: int, token: int) -> int:
        """Progress after appending ``token`` to an output with ``progress`` bytes matched."""
        if progress == self.length:
            return progress
        key = (progress, token)
        found = self._memo.get(key)
        if found is None:
            found = progress
            surface, failure = self.term.surface, self._failure
            for byte in self._token_bytes[token]:
                while found and surface[found] != byte:
                    found = failure[found - 1]
                found += surface[found] == byte
                if found == self.length:
                    break
            self._memo[key] = found
        return found


def _failure_table(pattern: bytes) -> list[int]:
    """KMP: for each prefix of ``pattern``, the length of its longest proper border."""
    failure = [0] * len(pattern)
    border = 0
    for index in range(1, len(pattern)):
        while border and pattern[index] != pattern[border]:
            border = failure[border - 1]
        border += pattern[index] == pattern[border]
        failure[index] = border
    return failure


class SentenceConstraints:
    """The terms of one sentence and what a hypothesis's :data:`Progress` on them means."""

    def __init__(self, terms: Sequence[Term], token_bytes: Sequence[bytes]) -> None:
        self.matchers = [TermMatcher(term, token_bytes) for term in terms]
        self.start: Progress = (0,) * len(terms)

    def advance(self, progress: Progress, token: int) -> Progress:
        return tuple(
            matcher.advance(done, token)
            for matcher, done in zip(self.matchers, progress, strict=True)
        )

    def complete(self, progress: Progress) -> bool:
        """Every term has appeared."""
        return all(done == m.length for m, done in zip(self.matchers, progress, strict=True))

    def bank(self, progress: Progress) -> int:
        """The hypothesis's bank: bytes of the met terms plus the longest partial match."""
        met = sum(done for m, done in zip(self.matchers, progress, strict=True) if done == m.length)
        partial = [done for m, done in zip(self.matchers, progress, strict=True) if done < m.length]
        return met + max(partial, default=0)

    def next_tokens(self, progress: Progress) -> set[int]:
        """The tokens that start or continue an unmet term (candidates the search adds)."""
        return {
            m.term.continuations[done][0]
            for m, done in zip(self.matchers, progress, strict=True)
            if done < m.length
        }

    def needed(self, progress: Progress) -> int:
        """Tokens that write every unmet term from its start. While the output limit leaves
        more, any token is safe (no token can raise this); from there on the search writes
        :meth:`urgent_tokens` only, which complete the terms within this many."""
        return sum(
            len(m.term.tokens)
            for m, done in zip(self.matchers, progress, strict=True)
            if done < m.length
        )

    def urgent_tokens(self, progress: Progress) -> set[int]:
        """The tokens allowed when the output limit leaves just :meth:`needed` tokens: the
        continuation of the longest partial match (in tokens saved), else the start of any
        unmet term."""
        unmet = [
            (len(m.term.tokens) - len(m.term.continuations[done]), m.term.continuations[done][0])
            for m, done in zip(self.matchers, progress, strict=True)
            if done < m.length
        ]
        saved = max((gain for gain, _ in unmet), default=0)
        return {token for gain, token in unmet if gain == saved}


def striped_order(scores: Sequence[float], banks: Sequence[int]) -> list[int]:
    """Dynamic beam allocation: candidate indices in the order the beam takes them.

    Within each bank candidates rank by score; the beam then takes the best of every bank
    (highest bank first), then the second best of every bank, and so on: a bank with fewer
    candidates leaves its share to the others (fairseq's "striping")."""
    by_score = sorted(range(len(scores)), key=lambda index: -scores[index])
    seen: dict[int, int] = {}
    stripe: dict[int, int] = {}
    for index in by_score:
        stripe[index] = seen.get(banks[index], 0)
        seen[banks[index]] = stripe[index] + 1
    return sorted(by_score, key=lambda index: (stripe[index], -banks[index]))
