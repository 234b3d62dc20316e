"""A tiny Transformer-vs-LSTM study end to end: matched sizes, consistent numbers, the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from cli.toy_data import toy_pairs
from comparison.long_range import LongRangeSettings
from comparison.matching import lstm_parameters, matched_lstm
from comparison.report import SECTIONS, write_report
from comparison.saved import load_results
from comparison.study import Architecture, StudySettings, run_study, study_training
from transformer_mt.data.pairs import Splits
from transformer_mt.model.factory import build_model, parameter_count
from transformer_mt.model.lstm_config import LSTMConfig


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"attention": "dot"},
        {"share_embeddings": False, "src_vocab_size": 50},
        {"tie_output": False},
    ],
)
def test_the_parameter_formula_counts_the_built_model(overrides: dict[str, object]) -> None:
    config = LSTMConfig(
        **{
            "src_vocab_size": 40,
            "tgt_vocab_size": 40,
            "d_model": 12,
            "num_encoder_layers": 2,
            "num_decoder_layers": 3,
            **overrides,
        }
    )  # type: ignore[arg-type]
    assert lstm_parameters(config) == parameter_count(build_model(config))


@pytest.mark.parametrize(
    ("d_model", "layers", "vocab"), [(16, 1, 40), (64, 2, 36), (256, 3, 8000), (48, 4, 500)]
)
def test_the_lstm_is_matched_within_ten_percent(d_model: int, layers: int, vocab: int) -> None:
    transformer = Architecture(d_model, 4, layers, 4 * d_model, 0.1).transformer(vocab)
    lstm = matched_lstm(transformer)
    target = parameter_count(build_model(transformer))
    assert abs(lstm_parameters(lstm) - target) <= 0.1 * target
    assert (lstm.num_encoder_layers, lstm.num_decoder_layers) == (layers, layers)
    # No other even width is closer (the search found the best one).
    for width in (lstm.d_model - 2, lstm.d_model + 2):
        other = lstm_parameters(LSTMConfig(**{**lstm.to_dict(), "d_model": width}))
        assert abs(other - target) >= abs(lstm_parameters(lstm) - target)
    assert lstm_parameters(lstm) == parameter_count(build_model(lstm))


def tiny_settings() -> StudySettings:
    return StudySettings(
        tasks=("copy", "agreement"),
        long_range=LongRangeSettings(
            train_examples=40, min_length=4, max_length=12, eval_lengths=(4, 12),
            eval_examples=4, updates=3, lrs=(1e-2, 3e-2), probe_updates=1,
        ),
        synthetic_model=Architecture(16, 2, 1, 32, 0.0),
        synthetic_training=study_training(max_tokens=128, warmup_steps=1),
        speed_lengths=(4, 8),
        speed_threads=(1,),
        speed_sentences=8,
        speed_max_tokens=64,
        translation_model=Architecture(16, 2, 1, 32, 0.0),
        translation_training=study_training(max_tokens=256, lr=1e-2, warmup_steps=1),
        translation_seconds=1.0,  # marks 0.5 s apart: a slow update rarely crosses both
        translation_points=2,
        translation_lrs=(1e-2, 3e-2),
        translation_probe_seconds=0.05,
        vocab_size=300,
        eval_sentences=6,
        bucket_sentences=12,
    )  # fmt: skip


def test_a_tiny_study_writes_a_consistent_report(tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    splits = Splits(train=toy_pairs(200, seed=0), valid=[], test=toy_pairs(12, seed=2))
    try:
        saved: list[int] = []
        results = run_study(
            tiny_settings(),
            splits,
            tmp_path / "work",
            report=lambda _: None,
            after_part=lambda partial: saved.append(
                len(partial.long_range) + len(partial.speed) + len(partial.quality)
            ),
        )
    finally:
        torch.set_num_threads(threads)
    assert saved == [8, 8 + 4, 8 + 4 + 4]  # after each part, the results so far
    for counts in results.parameters.values():
        assert abs(counts["lstm"] - counts["transformer"]) <= 0.1 * counts["transformer"]
    assert len(results.long_range) == 2 * 2 * 2  # tasks x models x lengths
    for score in results.long_range:
        for value in (score.sequence_accuracy, score.token_accuracy, score.last_token_accuracy):
            assert 0.0 <= value <= 1.0
        assert score.sequence_accuracy <= score.token_accuracy or score.token_accuracy == 0
    for row in results.long_range_training:
        assert row["updates"] == 3 and row["lr"] in (1e-2, 3e-2)
        losses = dict(row["probe_losses"])
        assert set(losses) == {1e-2, 3e-2} and losses[row["lr"]] == min(losses.values())
    for model in ("transformer", "lstm"):
        assert results.translation_lr[model]["lr"] in (1e-2, 3e-2)
    assert len(results.speed) == 2 * 2
    for row in results.speed:
        # One epoch of 8 sentences of 4 (or 8) tokens plus a special in 64-token batches.
        assert row.updates == -(-8 // (64 // (row.length + 1)))
        assert row.tokens_per_second == pytest.approx(8 * (row.length + 1) / row.epoch_seconds)
    for model in ("transformer", "lstm"):
        points = [p for p in results.quality if p.model == model]
        assert len(points) == 2 and points[0].minutes < points[1].minutes
        assert points[0].updates < points[1].updates
        assert all(0.0 <= p.bleu <= 100.0 and 0.0 <= p.chrf <= 100.0 for p in points)
        buckets = [b for b in results.buckets if b.model == model]
        assert sum(b.sentences for b in buckets) == 12

    results.command = "python benchmarks/transformer_vs_lstm.py --tiny"
    path = write_report(results, tmp_path / "docs")
    text = path.read_text()
    for section in SECTIONS:
        assert section in text
    for figure in ("long-range", "speed", "translation"):
        png = tmp_path / "docs" / f"transformer-vs-lstm-{figure}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({png.name})" in text
    saved = tmp_path / "docs" / "transformer-vs-lstm.json"
    assert json.loads(saved.read_text())["parameters"] == results.parameters
    # The saved numbers render the same report again.
    again = write_report(load_results(saved), tmp_path / "again")
    assert again.read_text() == text
    assert "python benchmarks/transformer_vs_lstm.py --tiny" in text
    assert "Verdict:" in text and "Translation: after" in text
    for line in text.splitlines():  # every table row has as many cells as its header
        if line.startswith("| task | model | lr"):
            width = line.count("|")
        elif line.startswith("| copy | transformer | 0.0"):
            assert line.count("|") == width


def test_a_probe_longer_than_the_first_kept_point_is_refused_up_front() -> None:
    with pytest.raises(ValueError, match="translation_probe_seconds"):
        StudySettings(translation_seconds=420, translation_points=4, translation_probe_seconds=120)
    StudySettings(translation_seconds=420, translation_points=4, translation_lrs=(1e-3,))
    StudySettings()  # the defaults are consistent
