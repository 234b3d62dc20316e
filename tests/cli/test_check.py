"""``transformer-mt check``: decoding self-checks pass on a real model and catch a broken one."""

from __future__ import annotations

import pytest
import torch

from cli.toy_data import ToyRun, invoke, toy_pairs
from transformer_mt.commands import check as checks
from transformer_mt.decoding.translator import Translator


def test_check_passes_on_the_trained_run(toy_run: ToyRun) -> None:
    result = invoke(["check", str(toy_run.run_dir), "--sentences", "12", "--beam-size", "3"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines()[1:] if line.strip()]
    assert len(rows) == 5
    assert all(" pass " in row for row in rows)


def test_check_reads_sentences_from_a_file(toy_run: ToyRun, tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "sentences.txt"
    source.write_text("i like tea\n\nyou see a big red car\n", encoding="utf-8")
    result = invoke(["check", str(toy_run.run_dir), "--src", str(source)])
    assert result.exit_code == 0, result.output


@pytest.fixture
def translator(toy_run: ToyRun) -> Translator:
    return Translator.load(toy_run.run_dir)


def test_a_cache_that_drifts_is_caught(translator: Translator, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    step = translator.model.decode_step

    def drifting_step(tokens, cache):  # type: ignore[no-untyped-def]
        logits, cache = step(tokens, cache)
        return logits + 1e-2 * cache.length, cache  # wrong by more at each position

    monkeypatch.setattr(translator.model, "decode_step", drifting_step)
    sentences = [source for source, _ in toy_pairs(4, seed=9)]
    result = checks.check_cached_equals_full(translator, sentences)
    assert not result.passed
    assert result.max_difference > checks.LOGIT_TOLERANCE


def test_a_wrong_reported_score_is_caught(translator: Translator, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    rescore = checks.teacher_forced_log_prob
    monkeypatch.setattr(
        checks, "teacher_forced_log_prob", lambda t, s, tokens: rescore(t, s, tokens) + 0.5
    )
    sentences = [source for source, _ in toy_pairs(3, seed=4)]
    result = checks.check_scores_equal_rescoring(translator, sentences, beam_size=2)
    assert not result.passed
    assert result.max_difference == pytest.approx(0.5, abs=1e-3)


def test_teacher_forced_log_prob_equals_score_tokens(translator: Translator) -> None:
    sentences = [source for source, _ in toy_pairs(5, seed=2)]
    sources, _ = translator.encode_sources(sentences)
    for source, result in zip(sources, translator.translate_detailed(sentences), strict=True):
        tokens = result.candidates[0].tokens
        if tokens[-1] != translator.model.config.eos_id:
            continue  # score_tokens always appends </s>
        expected = translator.score_tokens([source], [list(tokens[:-1])])[0]
        assert checks.teacher_forced_log_prob(translator, source, tokens) == pytest.approx(
            expected, abs=1e-4
        )
        assert torch.isfinite(torch.tensor(expected))
