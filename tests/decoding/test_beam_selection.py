"""Beam search's tensor selection against a plain reference of the same rules.

:class:`BeamSearch` chooses each step's finished hypotheses and new beams on tensors. The
reference below is the per-sentence, per-candidate Python loop it replaced, written from the
rules of :mod:`transformer_mt.decoding.beam`: of each sentence's ``2K`` candidates (best first),
one that ends (``</s>``, or any at the sentence's length limit) finishes if it ranks within the
top ``K`` while the sentence has fewer than ``K`` hypotheses; the first ``K`` that do not end
are the new beams; a sentence at its limit or with ``K`` hypotheses leaves. Both must agree
token for token, score for score and decision for decision (the ``on_step`` observer), on
models that end often, tie often, and on real tiny Transformers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

import pytest
import torch

from transformer_mt.decoding.beam import BeamDecisions, BeamSearch, BeamSelection, LiveBeams
from transformer_mt.decoding.guards import NO_GUARD, RepetitionGuard
from transformer_mt.decoding.hypothesis import Hypothesis, length_normalised
from transformer_mt.decoding.search import StepModel, never_generated, next_token_log_probs
from transformer_mt.decoding.topk import top_k
from transformer_mt.model import Transformer, TransformerConfig

EOS = 3
Prefix = tuple[int, ...]


# -- the reference: the rules as a plain loop over sentences and candidates ------------------


@torch.inference_mode()
def reference_search(
    strategy: BeamSearch, model: StepModel, src_ids: torch.Tensor, max_lengths: torch.Tensor
) -> list[list[Hypothesis]]:
    config, beams, batch = model.config, strategy.beam_size, src_ids.shape[0]
    steps = int(max_lengths.max().item()) if batch else 0
    live = LiveBeams.start(model, src_ids, beams, steps)
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    limits = max_lengths.tolist()
    for step in range(1, steps + 1):
        alive, history = live.alive, live.history
        log_probs, live.cache = next_token_log_probs(
            model, live.tokens, live.cache, never_generated(config), strategy.guard, history
        )  # (A*K, V)
        vocab = log_probs.shape[-1]
        totals = log_probs.add_(live.scores.view(-1, 1))  # (A*K, V)
        top_scores, top_index = top_k(totals.view(len(alive), beams * vocab), 2 * beams)
        source_beam, token = top_index // vocab, top_index % vocab  # (A, 2K) each
        selection = BeamSelection()
        for position, sentence in enumerate(alive):
            at_limit = step >= limits[sentence]
            kept: list[tuple[int, int, float]] = []
            for rank, (score, beam, tok) in enumerate(
                zip(
                    top_scores[position].tolist(),
                    source_beam[position].tolist(),
                    token[position].tolist(),
                    strict=True,
                )
            ):
                row = position * beams + beam
                if tok == config.eos_id or at_limit:
                    if rank < beams and len(finished[sentence]) < beams:
                        tokens = (*history[row].tolist(), tok)
                        score_ = length_normalised(score, len(tokens), strategy.length_penalty)
                        finished[sentence].append(
                            Hypothesis(tokens, score, score_, tok == config.eos_id)
                        )
                elif len(kept) < beams:
                    kept.append((row, tok, score))
            if len(finished[sentence]) >= beams or at_limit:
                continue
            selection.sentences.append(sentence)
            for row, tok, score in kept:
                selection.rows.append(row)
                selection.tokens.append(tok)
                selection.scores.append(score)
        if strategy.on_step is not None:
            strategy.on_step(
                BeamDecisions(step, alive, top_scores, source_beam, token, history, selection)
            )
        if not selection.sentences:
            break
        live.advance(selection, beams)
    return [sorted(hyps, key=lambda h: -h.score)[: strategy.n_best] for hyps in finished]


# -- a model that ends and ties often ---------------------------------------------------------


@dataclass
class PrefixCache:
    """Per row: the source key it reads and the tokens generated so far."""

    keys: list[int]
    prefixes: list[Prefix]

    def select(self, index: torch.Tensor) -> PrefixCache:
        rows = index.tolist()
        return PrefixCache([self.keys[r] for r in rows], [self.prefixes[r] for r in rows])


class TieModel:
    """Logits drawn per (source, prefix) from four values, so that equal log-probabilities
    (ties) are everywhere; ``</s>`` often ranks high, so that hypotheses finish at many
    steps. Deterministic: the same prefix always gets the same logits."""

    def __init__(self, vocab: int, eos_bias: float) -> None:
        self.config = TransformerConfig(
            src_vocab_size=vocab, tgt_vocab_size=vocab, d_model=16, num_heads=2
        )
        self.vocab, self.eos_bias = vocab, eos_bias

    def encode(self, src_ids: torch.Tensor) -> torch.Tensor:
        return src_ids[:, :1].float()[:, :, None]  # (B, 1, 1)

    def start_cache(
        self, memory: torch.Tensor, src_ids: torch.Tensor, *, beams: int = 1, capacity: int = 0
    ) -> PrefixCache:
        keys = [key for key in src_ids[:, 0].tolist() for _ in range(beams)]
        return PrefixCache(keys, [() for _ in keys])

    def decode_step(
        self, tokens: torch.Tensor, cache: PrefixCache
    ) -> tuple[torch.Tensor, PrefixCache]:
        prefixes = [
            (*prefix, token) for prefix, token in zip(cache.prefixes, tokens.tolist(), strict=True)
        ]
        logits = torch.tensor(
            [self._logits(k, p) for k, p in zip(cache.keys, prefixes, strict=True)]
        )
        return logits, PrefixCache(list(cache.keys), prefixes)

    def _logits(self, key: int, prefix: Prefix) -> list[float]:
        rng = random.Random(hash((key, prefix)))
        logits = [rng.choice([0.0, -0.5, -1.0, -1.5]) for _ in range(self.vocab)]
        logits[EOS] += self.eos_bias * rng.random() * len(prefix) / 4
        return logits


# -- the comparison -----------------------------------------------------------------------------


Model = StepModel | Transformer


def compare(strategy: BeamSearch, model: Model, src_ids: torch.Tensor, limits: list[int]) -> int:
    """Both searches on the same input with equal results and equal decisions at every step;
    returns the number of hypotheses finished before their sentence's limit."""
    seen: dict[str, list[BeamDecisions]] = {"new": [], "reference": []}
    new = replace(strategy, on_step=seen["new"].append)
    reference = replace(strategy, on_step=seen["reference"].append)
    max_lengths = torch.tensor(limits)
    expected = reference_search(reference, model, src_ids, max_lengths)
    assert new.search(model, src_ids, max_lengths) == expected
    assert strategy.search(model, src_ids, max_lengths) == expected  # no observer: same
    assert len(seen["new"]) == len(seen["reference"])
    for ours, theirs in zip(seen["new"], seen["reference"], strict=True):
        assert (ours.step, ours.sentences, ours.selection) == (
            theirs.step,
            theirs.sentences,
            theirs.selection,
        )
        for name in ("scores", "source_beam", "tokens", "history"):
            assert torch.equal(getattr(ours, name), getattr(theirs, name)), name
    return sum(
        hyp.finished and len(hyp.tokens) < limit
        for hyps, limit in zip(expected, limits, strict=True)
        for hyp in hyps
    )


def random_case(seed: int, vocab: int) -> tuple[torch.Tensor, list[int], BeamSearch]:
    rng = random.Random(seed)
    batch = rng.randint(1, 9)
    beams = rng.randint(1, 5)
    src_ids = torch.tensor([[rng.randrange(4, vocab), EOS] for _ in range(batch)])
    limits = [rng.randint(1, 9) for _ in range(batch)]
    guard = RepetitionGuard(max_token_repeat=2) if rng.random() < 0.3 else NO_GUARD
    strategy = BeamSearch(
        beam_size=beams,
        length_penalty=rng.choice([0.0, 0.6, 1.0]),
        n_best=rng.randint(1, beams),
        guard=guard,
    )
    return src_ids, limits, strategy


@pytest.mark.parametrize("vocab", [5, 8, 40])
def test_equal_to_the_reference_on_a_model_that_ends_and_ties_often(vocab: int) -> None:
    model = TieModel(vocab, eos_bias=3.0)
    early = 0
    for seed in range(60):
        src_ids, limits, strategy = random_case(seed, vocab)
        early += compare(strategy, model, src_ids, limits)
    assert early > 100  # many hypotheses finish before the limit, not only at it


def test_equal_to_the_reference_when_every_beam_ends_at_once() -> None:
    """``</s>`` first for every beam: K hypotheses finish in one step and the sentence
    leaves; the others stay."""
    model = TieModel(6, eos_bias=40.0)
    src_ids = torch.tensor([[key, EOS] for key in range(4, 10)])
    for beams in (1, 2, 3):
        for n_best in range(1, beams + 1):
            strategy = BeamSearch(beam_size=beams, length_penalty=1.0, n_best=n_best)
            compare(strategy, model, src_ids, [1, 2, 3, 5, 8, 13])


@pytest.mark.parametrize("beams", [1, 2, 4])
def test_equal_to_the_reference_on_tiny_transformers(beams: int, search_model: Transformer) -> None:
    """Real models: the copy model ends sentences at different steps, the lively random one
    at its limits; with and without the default guards."""
    src_ids = torch.tensor(
        [
            [5, 9, 14, 7, EOS, 0],
            [11, 6, EOS, 0, 0, 0],
            [8, 4, 19, 13, 22, EOS],
            [7, 7, EOS, 0, 0, 0],
        ]
    )
    for guard in (NO_GUARD, RepetitionGuard(max_token_repeat=2, no_repeat_chunk_size=4)):
        strategy = BeamSearch(beam_size=beams, length_penalty=0.6, n_best=beams, guard=guard)
        compare(strategy, search_model, src_ids, [9, 4, 8, 12])
