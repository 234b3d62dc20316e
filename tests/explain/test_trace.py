"""Decoding traces: what greedy and beam search really did, step by step."""

from __future__ import annotations

import itertools
import json
import math

import pytest

from cli.toy_data import toy_pairs
from transformer_mt.commands.check import teacher_forced_log_prob
from transformer_mt.config.decoding import NO_GUARDS
from transformer_mt.decoding.guards import RepetitionGuard
from transformer_mt.decoding.translator import Translator
from transformer_mt.explain.trace import beam_trace, greedy_trace

SENTENCES = ["i like tea", *(source for source, _ in toy_pairs(4, seed=5))]


@pytest.mark.parametrize("source", SENTENCES)
def test_greedy_trace_chooses_the_greedy_translation(translator: Translator, source: str) -> None:
    trace = greedy_trace(translator, source, top_k=3)
    (expected,) = translator.translate_detailed([source], beam_size=1)
    best = expected.candidates[0]
    assert tuple(trace.output_ids) == best.tokens
    assert [step.chosen.token_id for step in trace.steps] == list(best.tokens)
    assert trace.translation == best.text
    assert trace.log_prob == pytest.approx(best.log_prob, abs=1e-4)


def test_greedy_steps_feed_back_the_chosen_tokens(translator: Translator) -> None:
    trace = greedy_trace(translator, SENTENCES[1], top_k=4)
    pieces = translator.tokenizer.target_id_pieces(trace.output_ids)
    (source_ids,), _ = translator.encode_sources([SENTENCES[1]])
    for index, step in enumerate(trace.steps):
        assert step.decoder_input == ["<s>", *pieces[:index]]
        probabilities = [choice.probability for choice in step.top]
        assert len(step.top) == 4
        assert probabilities == sorted(probabilities, reverse=True)
        assert step.chosen == step.top[0]
        # The shown probability is the teacher-forced one of that token after that prefix.
        prefix = trace.output_ids[: index + 1]
        gain = teacher_forced_log_prob(translator, source_ids, prefix) - (
            teacher_forced_log_prob(translator, source_ids, prefix[:-1]) if index else 0.0
        )
        assert step.chosen.probability == pytest.approx(math.exp(gain), rel=1e-4)


@pytest.mark.parametrize("beam_size", [2, 4])
def test_beam_trace_ends_with_the_beam_search_result(
    translator: Translator, beam_size: int
) -> None:
    for source in SENTENCES:
        trace = beam_trace(translator, source, beam_size=beam_size)
        # What translate gives with the same beam (and its default repetition guards).
        (expected,) = translator.translate_detailed([source], beam_size=beam_size)
        assert tuple(trace.best_ids) == expected.candidates[0].tokens
        assert trace.translation == expected.text
        scores = [h.score for h in trace.finished]
        assert scores == sorted(scores, reverse=True)
        assert scores[0] == pytest.approx(expected.candidates[0].score, abs=1e-5)
        for hypothesis in trace.finished:
            length_normalised = hypothesis.log_prob / len(hypothesis.tokens)
            assert hypothesis.score == pytest.approx(length_normalised, rel=1e-6)


def test_beam_steps_extend_the_kept_beams(translator: Translator) -> None:
    trace = beam_trace(translator, SENTENCES[2], beam_size=3)
    assert all(len(c.tokens) == 1 for c in trace.steps[0].candidates)
    for before, after in zip(trace.steps, trace.steps[1:], strict=False):
        kept = [c.tokens for c in before.kept]
        assert 0 < len(kept) <= 3
        assert len(after.candidates) <= 2 * 3
        for candidate in after.candidates:
            assert candidate.tokens[:-1] in kept
        log_probs = [c.log_prob for c in after.candidates]
        assert log_probs == sorted(log_probs, reverse=True)
    finished = {tuple(h.tokens) for h in trace.finished}
    marked = {tuple(c.tokens) for s in trace.steps for c in s.candidates if c.fate == "finished"}
    assert marked == finished


def test_one_beam_traces_the_greedy_path(translator: Translator) -> None:
    greedy = greedy_trace(translator, SENTENCES[0])
    beam = beam_trace(translator, SENTENCES[0], beam_size=1, length_penalty=0.0)
    assert beam.best_ids == greedy.output_ids


def test_traces_are_json(translator: Translator) -> None:
    json.dumps(greedy_trace(translator, SENTENCES[0]).to_dict())
    json.dumps(beam_trace(translator, SENTENCES[0]).to_dict())


def test_bad_options_are_rejected(translator: Translator) -> None:
    with pytest.raises(ValueError, match="top_k"):
        greedy_trace(translator, "i like tea", top_k=0)
    with pytest.raises(ValueError, match="max_length"):
        beam_trace(translator, "i like tea", max_length=0)


def _has_immediate_repeat(tokens: tuple[int, ...]) -> bool:
    return any(a == b for a, b in itertools.pairwise(tokens))


@pytest.mark.parametrize("search", ["greedy", "beam"])
def test_blocked_repetitions_are_marked_in_the_trace(translator: Translator, search: str) -> None:
    # No token twice in a row: every repeat the 60-step toy model wants is blocked and shown.
    guard = RepetitionGuard(max_token_repeat=1)
    stutterers = 0
    for source in SENTENCES:
        (own,) = translator.translate_detailed([source], beam_size=1, **NO_GUARDS)
        if search == "greedy":
            trace = greedy_trace(translator, source, guard=guard)
            blocked = [(step.decoder_input[1:], step.blocked) for step in trace.steps]
            marks = [(history, choice) for history, choice in blocked if choice is not None]
            output = tuple(trace.output_ids)
        else:
            beam = beam_trace(translator, source, beam_size=2, guard=guard)
            marks = [(c.beam_tokens, c) for step in beam.steps for c in step.blocked]
            output = tuple(beam.best_ids)
        assert not _has_immediate_repeat(output)
        for history, choice in marks:
            assert history and history[-1] == choice.token  # the repeat it would have made
            assert 0.0 < choice.probability <= 1.0
        if search == "greedy" and _has_immediate_repeat(own.candidates[0].tokens):
            stutterers += 1
            assert marks, source  # the model's own greedy output repeats: the trace says where
    if search == "greedy":
        assert stutterers > 0  # the toy model does stutter, so the marks were checked
