"""``model.kind: lstm`` through the project's own train, resume, translate, explain and serve."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from training_runs import raw_config, records, run_training, train_losses, write_data

from cli.toy_data import assert_user_error, invoke, toy_config, write_config, write_corpus
from transformer_mt.decoding.translator import Translator
from transformer_mt.errors import UserError
from transformer_mt.evaluation.metrics import corpus_scores
from transformer_mt.explain.explanation import explain
from transformer_mt.model import LSTMSeq2Seq
from transformer_mt.serve.app import create_app
from transformer_mt.training.resume import resume_config

LSTM = {"kind": "lstm", "d_model": 16, "num_encoder_layers": 1, "num_decoder_layers": 1}


def lstm_config(run_dir: Path, data: dict[str, str], **training: Any) -> dict[str, Any]:
    config = raw_config(run_dir, data, **training)
    config["model"] = {**config["model"], **LSTM}
    return config


@pytest.fixture(scope="module")
def toy_lstm_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    """The CLI toy language learned by an LSTM through ``transformer-mt train``."""
    base = tmp_path_factory.mktemp("toy-lstm")
    corpus = write_corpus(base / "data")
    config = toy_config(corpus, base / "run")
    config["model"] = {"kind": "lstm", "d_model": 32, "num_encoder_layers": 1,
                       "num_decoder_layers": 1, "dropout": 0.0, "max_positions": 64}  # fmt: skip
    result = invoke(["train", str(write_config(base / "toy.yaml", config))])
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert "model: lstm" in result.stderr
    return base / "run", corpus


def test_an_lstm_run_stopped_and_resumed_equals_an_uninterrupted_one(tmp_path: Path) -> None:
    data = write_data(tmp_path / "data")
    options = {"max_steps": 10, "checkpoint_every": 5}
    run_training(lstm_config(tmp_path / "whole", data, **options))
    run_training(lstm_config(tmp_path / "split", data, **{**options, "max_steps": 5}))
    resumed = resume_config(tmp_path / "split", None, ["training.max_steps=10"])
    assert resumed.model.kind == "lstm"
    assert run_training(resumed, resume=True).step == 10
    assert train_losses(tmp_path / "split") == train_losses(tmp_path / "whole")
    whole = (tmp_path / "whole" / "last.safetensors").read_bytes()
    assert (tmp_path / "split" / "last.safetensors").read_bytes() == whole
    assert [r["step"] for r in records(tmp_path / "split", "train")] == list(range(1, 11))
    saved = json.loads((tmp_path / "whole" / "model.json").read_text())
    assert (saved["kind"], saved["d_model"], saved["attention"]) == ("lstm", 16, "general")


def test_resume_refuses_another_model_kind(tmp_path: Path) -> None:
    data = write_data(tmp_path / "data")
    run_training(lstm_config(tmp_path / "run", data, max_steps=3))
    transformer = raw_config(tmp_path / "run", data, max_steps=6)
    with pytest.raises(UserError, match=r"model differs from the config: kind \('lstm' -> "):
        run_training(transformer, resume=True)


def test_a_trained_lstm_run_loads_and_translates(toy_lstm_run: tuple[Path, dict]) -> None:
    run_dir, corpus = toy_lstm_run
    translator = Translator.load(run_dir)
    assert isinstance(translator.model, LSTMSeq2Seq)
    pairs = [line.split("\t") for line in corpus["test"].read_text().splitlines()]
    sources, references = [s for s, _ in pairs], [t for _, t in pairs]
    # 60 updates teach the LSTM less than the Transformer (its validation loss still falls
    # steadily); the translations must exist and carry the model's own scores.
    losses = [r["valid_loss"] for r in records(run_dir, "valid")]
    assert len(losses) == 3 and losses[0] > losses[1] > losses[2]
    greedy = translator.translate(sources, beam_size=1)
    assert all(greedy) and 0 <= corpus_scores(greedy, references).chrf <= 100
    beam = translator.translate_detailed(sources[:5], beam_size=3, n_best=2)
    compared = 0
    for source, translation in zip(sources[:5], beam, strict=True):
        scores = translator.score([source] * 2, [c.text for c in translation.candidates])
        for candidate, score in zip(translation.candidates, scores, strict=True):
            # Rescoring re-tokenizes the text: comparable only where that gives the same tokens
            # (a doubled empty piece such as "▁ ▁" reads back as one).
            (again,) = translator.tokenizer.encode_target([candidate.text])
            if list(candidate.tokens) == [*again, translator.model.config.eos_id]:
                assert score == pytest.approx(candidate.log_prob, abs=1e-3)
                compared += 1
    assert compared >= 5


def test_explain_refuses_an_lstm_run_in_one_line(toy_lstm_run: tuple[Path, dict]) -> None:
    run_dir, _ = toy_lstm_run
    with pytest.raises(UserError, match="explain needs a Transformer; this run's model is 'lstm'"):
        explain(Translator.load(run_dir), "i like tea")
    assert_user_error(
        invoke(["explain", str(run_dir), "--out", str(run_dir / "explain")]),
        "explain needs a Transformer",
    )


def test_serve_translates_with_an_lstm_and_refuses_to_explain_it(
    toy_lstm_run: tuple[Path, dict],
) -> None:
    translator = Translator.load(toy_lstm_run[0])
    with TestClient(create_app(translator)) as client:
        response = client.post("/translate", json={"sentences": ["i like tea"], "beam_size": 2})
        assert response.status_code == 200, response.text
        expected = translator.translate(["i like tea"], beam_size=2)[0]
        assert response.json()["translations"] == [expected]
        response = client.post("/explain", json={"sentence": "i like tea"})
        assert 400 <= response.status_code < 500
        assert "explain needs a Transformer" in response.json()["message"]


def test_the_decoding_self_checks_pass_on_an_lstm_run(toy_lstm_run: tuple[Path, dict]) -> None:
    run_dir, corpus = toy_lstm_run
    source = corpus["test_en"]
    result = invoke(["check", str(run_dir), "--src", str(source), "--sentences", "8"])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    rows = [line for line in result.stdout.splitlines()[1:] if line.strip()]
    assert len(rows) == 5 and all(" pass " in row for row in rows)
