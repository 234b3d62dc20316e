"""Constrained and prefixed search on scripted probabilities, against hand-derived hypotheses.

The scripted model reads its next-token distribution from ``TABLE`` (by the tokens generated
so far; ``DEFAULT`` for any other prefix), as in test_scripted_search.py. Every expected
probability below is a product of table entries, written out in the test.

Vocabulary: 0 <pad>, 1 <unk>, 2 <s>, 3 </s> (written E), 4 A, 5 B, 6 C; A, B, C spell "a",
"b", "c".
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import pytest
import torch

from transformer_mt.decoding import BeamSearch, GreedySearch, Hypothesis
from transformer_mt.decoding.constrained import ConstrainedBeamSearch
from transformer_mt.decoding.constraints import Term
from transformer_mt.decoding.controls import OutputControls
from transformer_mt.decoding.guards import RepetitionGuard
from transformer_mt.model import TransformerConfig

PAD, BOS, E, A, B, C = 0, 2, 3, 4, 5, 6
VOCAB = 7
TOKEN_BYTES = [b"", b"", b"", b"", b"a", b"b", b"c"]
Prefix = tuple[int, ...]

TABLE: dict[Prefix, dict[int, float]] = {
    (): {A: 0.6, B: 0.3, C: 0.05, E: 0.05},
    (A,): {E: 0.6, C: 0.2, A: 0.12, B: 0.08},
    (B,): {E: 0.6, A: 0.2, B: 0.12, C: 0.08},
    (C,): {E: 0.5, A: 0.3, B: 0.12, C: 0.08},
    (A, C): {E: 0.9, A: 0.05, B: 0.03, C: 0.02},
}
DEFAULT = {E: 0.4, A: 0.3, B: 0.2, C: 0.1}


def probability(prefix: Prefix, token: int) -> float:
    return TABLE.get(prefix, DEFAULT).get(token, 0.0)


def teacher_forced(tokens: Prefix) -> float:
    """The table's log-probability of a whole output (the scripted model's rescoring)."""
    return sum(math.log(probability(tokens[:t], tokens[t])) for t in range(len(tokens)))


@dataclass
class Cache:
    prefixes: list[Prefix | None]

    def select(self, index: torch.Tensor) -> Cache:
        return Cache([self.prefixes[row] for row in index.tolist()])


class ScriptedModel:
    def __init__(self) -> None:
        self.config = TransformerConfig(
            src_vocab_size=VOCAB, tgt_vocab_size=VOCAB, d_model=16, num_heads=2
        )

    def encode(self, src_ids: torch.Tensor) -> torch.Tensor:
        return src_ids[:, :, None].float()  # (B, S, 1)

    def start_cache(
        self, memory: torch.Tensor, src_ids: torch.Tensor, *, beams: int = 1, capacity: int = 0
    ) -> Cache:
        return Cache([None] * (src_ids.shape[0] * beams))

    def decode_step(self, tokens: torch.Tensor, cache: Cache) -> tuple[torch.Tensor, Cache]:
        logits = torch.full((len(cache.prefixes), VOCAB), float("-inf"))
        prefixes: list[Prefix | None] = []
        for row, (prefix, token) in enumerate(zip(cache.prefixes, tokens.tolist(), strict=True)):
            prefix = () if prefix is None else (*prefix, token)
            for next_token, p in TABLE.get(prefix, DEFAULT).items():
                logits[row, next_token] = math.log(p)
            prefixes.append(prefix)
        return logits, Cache(prefixes)


def term(text: str) -> Term:
    """A term over the letters a, b, c (one token a letter) and its continuations."""
    tokens = tuple({"a": A, "b": B, "c": C}[char] for char in text)
    return Term(text, text.encode(), tuple(tokens[done:] for done in range(len(tokens))))


def controls(prefixes: list[Prefix], terms: list[list[str]]) -> OutputControls:
    return OutputControls(
        tuple(prefixes), tuple(tuple(term(t) for t in ts) for ts in terms), TOKEN_BYTES
    )


def search(strategy, sentences: int, limit: int, given=None) -> list[list[Hypothesis]]:  # type: ignore[no-untyped-def]  # strategies of both kinds
    src = torch.tensor([[4, E]] * sentences)
    limits = torch.tensor([limit] * sentences)
    if given is None:
        return strategy.search(ScriptedModel(), src, limits)
    return strategy.search(ScriptedModel(), src, limits, given)


def expect(tokens: Prefix, p: float, finished: bool = True, length_penalty: float = 1.0) -> tuple:
    log_prob = math.log(p)
    return (
        tokens,
        pytest.approx(log_prob),
        pytest.approx(log_prob / len(tokens) ** length_penalty),
        finished,
    )


def as_tuples(hypotheses: list[Hypothesis]) -> list[tuple]:
    return [(h.tokens, h.log_prob, h.score, h.finished) for h in hypotheses]


def test_dba_keeps_a_beam_for_the_term_and_writes_it() -> None:
    # Step 1 (</s> banned: "c" unmet): A .6, B .3, C .05. Banks: A 0, B 0, C 1. Striped: the
    #   best of bank 1 (C), then the best of bank 0 (A); B waits for the second stripe.
    # Step 2: from A (</s> banned): A C .12 (bank 1), A A .072, A B .048; from C (met): C E .025
    #   (bank 1). Striped: A C, A A | C E, A B -> beams A C, A A (C E ranks third: dropped).
    # Step 3 (the limit): A C E .108. A A needs "c" in its last token: only C, A A C .0072.
    #   Both finish; A C A .006 and A C B .0036 rank below.
    strategy = ConstrainedBeamSearch(beam_size=2, length_penalty=1.0, n_best=2)
    [found] = search(strategy, 1, 3, controls([()], [["c"]]))
    assert as_tuples(found) == [
        expect((A, C, E), 0.6 * 0.2 * 0.9),
        expect((A, A, C), 0.6 * 0.12 * 0.1, finished=False),
    ]


def test_without_the_term_beam_search_never_writes_it() -> None:
    strategy = BeamSearch(beam_size=2, length_penalty=1.0, n_best=2)
    [found] = search(strategy, 1, 3)
    assert all(C not in h.tokens for h in found)


def test_a_prefix_is_forced_and_the_rest_searched() -> None:
    # Step 1: only B (.3). Step 2 from B: B E .18 (rank 0: finished), B A .06, B B .036, B C .024
    # -> beams B A, B B. Step 3 (limit): B A E .024 ranks first and finishes the second.
    strategy = ConstrainedBeamSearch(beam_size=2, length_penalty=1.0, n_best=2)
    [found] = search(strategy, 1, 3, controls([(B,)], [[]]))
    assert as_tuples(found) == [expect((B, E), 0.3 * 0.6), expect((B, A, E), 0.3 * 0.2 * 0.4)]


def test_greedy_takes_the_prefix_then_its_own_choices() -> None:
    [[found]] = search(GreedySearch(), 1, 4, controls([(B, B)], [[]]))
    # After the forced B B: DEFAULT's best is </s> (.4).
    assert as_tuples([found]) == [expect((B, B, E), 0.3 * 0.12 * 0.4, length_penalty=0.0)]


def test_greedy_refuses_terms() -> None:
    with pytest.raises(ValueError, match="beam search"):
        search(GreedySearch(), 1, 4, controls([()], [["c"]]))


def test_a_sentence_without_controls_decodes_as_plain_beam_search() -> None:
    given = controls([(B,), (), ()], [["c"], [], ["ab"]])
    mixed = search(ConstrainedBeamSearch(beam_size=2, n_best=2), 3, 4, given)
    [plain] = search(BeamSearch(beam_size=2, n_best=2), 1, 4)
    assert as_tuples(mixed[1]) == as_tuples(plain)
    assert mixed[0][0].tokens[0] == B and C in mixed[0][0].tokens


TERM_SETS = [["c"], ["ab"], ["cc", "b"], ["aaa"], ["bab", "ca"], ["abc", "c"]]


@pytest.mark.parametrize(
    ("beam_size", "terms"),
    # Every beam that exceeds the number of terms (a smaller one is refused: test_output_control).
    [(beam, terms) for beam in (2, 3, 5) for terms in TERM_SETS if beam > len(terms)],
)
def test_every_output_holds_every_term_and_its_scripted_score(
    beam_size: int, terms: list[str]
) -> None:
    # Guards that would block "aaa" and "bab"'s repeats mid-term: terms are exempt.
    guard = RepetitionGuard(max_token_repeat=1, no_repeat_ngram_size=2)
    strategy = ConstrainedBeamSearch(beam_size=beam_size, n_best=beam_size, guard=guard)
    [found] = search(strategy, 1, 8, controls([()], [terms]))
    assert found
    letters = {A: "a", B: "b", C: "c"}
    for hypothesis in found:
        text = "".join(letters.get(t, "") for t in hypothesis.tokens)
        assert all(t in text for t in terms), (text, terms)
        assert hypothesis.log_prob == pytest.approx(teacher_forced(hypothesis.tokens))


def test_guards_still_apply_outside_the_terms() -> None:
    # max_token_repeat=1 forbids A A anywhere except inside the term "aa".
    guard = RepetitionGuard(max_token_repeat=1)
    strategy = ConstrainedBeamSearch(beam_size=3, n_best=3, guard=guard)
    [found] = search(strategy, 1, 6, controls([()], [["ba"]]))
    for hypothesis in found:
        assert (A, A) not in set(itertools.pairwise(hypothesis.tokens))


def test_one_text_in_two_segmentations_is_listed_once() -> None:
    # C spells "ab" here: A B E and C E write the same text, "ab", which meets the term "ab".
    spelled = [b"", b"", b"", b"", b"a", b"b", b"ab"]
    given = OutputControls(((),), ((Term("ab", b"ab", ((A, B), (B,))),),), spelled)
    strategy = ConstrainedBeamSearch(beam_size=3, n_best=3)
    [found] = search(strategy, 1, 3, given)
    texts = [b"".join(spelled[t] for t in h.tokens) for h in found]
    assert texts.count(b"ab") == 1 and len(set(texts)) == len(texts)
    assert all(b"ab" in text for text in texts)
