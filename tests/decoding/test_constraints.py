"""Term matching on the output's bytes, the tokens a term needs, and the banks' striping."""

from __future__ import annotations

from transformer_mt.decoding.constraints import SentenceConstraints, Term, striped_order

# Tokens 0..5 spell: "", "a", "b", "ab", "xa", "bc"
TOKEN_BYTES = [b"", b"a", b"b", b"ab", b"xa", b"bc"]


def term(text: str, *continuations: tuple[int, ...]) -> Term:
    return Term(text, text.encode(), continuations)


def written(constraints: SentenceConstraints, tokens: list[int]) -> tuple[int, ...]:
    progress = constraints.start
    for token in tokens:
        progress = constraints.advance(progress, token)
    return progress


def test_a_term_is_met_whatever_tokens_spell_it() -> None:
    # "abc" as a + bc, as ab + ... no: as xa + bc (the term starts inside a token).
    constraints = SentenceConstraints([term("abc", (1, 5), (5,), (5,))], TOKEN_BYTES)
    assert constraints.complete(written(constraints, [1, 5]))
    assert constraints.complete(written(constraints, [4, 5]))
    assert not constraints.complete(written(constraints, [3, 1, 2]))  # "abab"


def test_progress_falls_back_to_the_longest_border() -> None:
    # "aab" in "aaab": after "aa" a third "a" keeps two matched (KMP), then "b" completes.
    constraints = SentenceConstraints([term("aab", (1, 1, 2), (1, 2), (2,))], TOKEN_BYTES)
    assert written(constraints, [1, 1]) == (2,)
    assert written(constraints, [1, 1, 1]) == (2,)
    assert constraints.complete(written(constraints, [1, 1, 1, 2]))


def test_a_met_term_stays_met() -> None:
    constraints = SentenceConstraints([term("b", (2,))], TOKEN_BYTES)
    assert written(constraints, [2, 1, 1]) == (1,)


def test_bank_counts_met_bytes_and_the_longest_partial_match() -> None:
    constraints = SentenceConstraints(
        [term("ab", (3,), (2,)), term("bcb", (5, 2), (5, 2), (2,))], TOKEN_BYTES
    )
    assert constraints.bank(written(constraints, [1])) == 1  # "a": ab half-way
    assert constraints.bank(written(constraints, [3])) == 2 + 1  # "ab" met, "b" of bcb
    assert constraints.bank(written(constraints, [3, 5])) == 2 + 2  # "abc": bc of bcb


def test_next_needed_and_urgent_tokens() -> None:
    constraints = SentenceConstraints(
        [term("ab", (3,), (2,)), term("bcb", (5, 2), (5, 2), (2,))], TOKEN_BYTES
    )
    start = constraints.start
    assert constraints.next_tokens(start) == {3, 5}
    assert constraints.needed(start) == 1 + 2
    assert constraints.urgent_tokens(start) == {3, 5}  # nothing started: either term
    after_bc = written(constraints, [5])
    assert constraints.next_tokens(after_bc) == {3, 2}
    assert constraints.needed(after_bc) == 1 + 2  # each unmet term from its start
    assert constraints.urgent_tokens(after_bc) == {2}  # finish "bcb": one token instead of two


def test_striping_takes_the_best_of_every_bank_in_turn() -> None:
    # Scores .6 .3 in bank 0, .05 in bank 1, .2 .1 in bank 2.
    scores = [0.6, 0.3, 0.05, 0.2, 0.1]
    banks = [0, 0, 1, 2, 2]
    assert striped_order(scores, banks) == [3, 2, 0, 4, 1]
    assert striped_order([0.5, 0.4], [0, 0]) == [0, 1]  # one bank: plain beam order
