"""Exposure bias numbers agree with direct computations on the real model."""

from __future__ import annotations

import json

import pytest
import torch

from cli.toy_data import toy_pairs
from transformer_mt.config.decoding import NO_GUARDS
from transformer_mt.data.batching import Batch
from transformer_mt.decoding.translator import Translator
from transformer_mt.explain.exposure import exposure_bias

PAIRS = toy_pairs(24, seed=1)  # the toy run's validation pairs


@pytest.fixture(scope="module")
def report(translator: Translator):  # type: ignore[no-untyped-def]
    return exposure_bias(translator, PAIRS, injections=(0, 1, 3), batch_size=7)


@torch.inference_mode()
def test_teacher_forced_numbers_equal_a_direct_computation(translator, report) -> None:  # type: ignore[no-untyped-def]
    config = translator.model.config
    hits = tokens = 0
    nll = 0.0
    for source, target in PAIRS:
        (s,), (t,) = (
            translator.tokenizer.encode_source([source]),
            translator.tokenizer.encode_target([target]),
        )
        batch = Batch.from_token_ids(
            [s], [t], pad_id=config.pad_id, bos_id=config.bos_id, eos_id=config.eos_id
        )
        log_probs = translator.model(batch.src_ids, batch.tgt_in_ids)[0].log_softmax(-1)
        hits += int((log_probs.argmax(-1) == batch.tgt_out_ids[0]).sum())
        nll -= float(log_probs.gather(1, batch.tgt_out_ids[0][:, None]).sum())
        tokens += len(t) + 1
    assert report.teacher_forced.overall_accuracy == pytest.approx(hits / tokens)
    assert report.teacher_forced.overall_loss == pytest.approx(nll / tokens, rel=1e-5)
    zero = report.injections[0]
    assert zero.injected == 0
    assert zero.accuracy == pytest.approx(hits / tokens)
    assert zero.loss == pytest.approx(nll / tokens, rel=1e-5)
    assert sum(report.teacher_forced.tokens) == tokens


def test_free_running_accuracy_is_greedy_against_the_reference(translator, report) -> None:  # type: ignore[no-untyped-def]
    hits = tokens = 0
    for source, target in PAIRS:
        (reference,) = translator.tokenizer.encode_target([target])
        reference = [*reference, translator.model.config.eos_id]
        # The model's own greedy output: exposure bias measures the model, not the guards.
        (result,) = translator.translate_detailed([source], beam_size=1, **NO_GUARDS)
        output = result.candidates[0].tokens
        hits += sum(a == b for a, b in zip(output, reference, strict=False))
        tokens += len(reference)
    assert report.free_running.overall_accuracy == pytest.approx(hits / tokens)


def test_curves_are_consistent(report) -> None:  # type: ignore[no-untyped-def]
    forced, free = report.teacher_forced, report.free_running
    # Position 1 sees only <s> in both regimes: the same prediction, the same loss.
    assert free.accuracy[0] == pytest.approx(forced.accuracy[0])
    assert free.loss[0] == pytest.approx(forced.loss[0], rel=1e-5)
    assert free.tokens == forced.tokens
    assert all(0 < n <= m for n, m in zip(free.loss_tokens, free.tokens, strict=True) if n)
    assert [i.injected for i in report.injections] == [0, 1, 3]
    assert report.sentences == len(PAIRS)
    json.dumps(report.to_dict())


def test_injection_is_deterministic(translator, report) -> None:  # type: ignore[no-untyped-def]
    again = exposure_bias(translator, PAIRS, injections=(0, 1, 3), batch_size=7)
    assert again.injections == report.injections
