"""``transformer-mt train``: what a run directory holds, precision, --overwrite, skip_invalid."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from cli.toy_data import ToyRun, invoke, toy_pairs
from transformer_mt.commands import train as train_command
from transformer_mt.decoding.translator import Translator
from transformer_mt.model.config import TransformerConfig


def test_train_writes_a_complete_run_directory(toy_run: ToyRun) -> None:
    run = toy_run.run_dir
    for name in ("config.yaml", "model.json", "model.safetensors", "last.safetensors"):
        assert (run / name).is_file(), name
    assert (run / "tokenizer" / "tokenizer.json").is_file()
    assert (run / "tokenizer" / "spm.model").is_file()  # joint vocabulary by default

    resolved = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    assert resolved["model"]["d_model"] == 32
    assert resolved["training"]["max_steps"] == 60
    assert resolved["training"]["adam_betas"] == [0.9, 0.98]  # defaults are filled in

    saved = json.loads((run / "model.json").read_text())
    assert saved.pop("kind") == "transformer"
    model = TransformerConfig.from_dict(saved)
    assert (model.d_model, model.num_heads, model.d_ff) == (32, 2, 64)
    assert model.max_positions == 64

    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train_steps = [r["step"] for r in records if r["kind"] == "train"]
    valid = [r for r in records if r["kind"] == "valid"]
    assert train_steps == [10, 20, 30, 40, 50, 60]  # log_every 10
    # validate_every 20 (BLEU at 40), and the final validation with BLEU at step 60.
    assert [(r["step"], "valid_bleu" in r) for r in valid] == [
        (20, False),
        (40, True),
        (60, True),
    ]

    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 60
    assert summary["best_score"] == max(r["valid_bleu"] for r in valid if "valid_bleu" in r)
    assert "data: 300 train, 30 valid pairs" in toy_run.train_stderr
    assert "trained 60 steps" in toy_run.train_stderr


def test_training_lowers_the_validation_loss(toy_run: ToyRun) -> None:
    lines = (toy_run.run_dir / "metrics.jsonl").read_text().splitlines()
    losses = [json.loads(line)["valid_loss"] for line in lines if '"valid"' in line]
    assert losses[-1] < losses[0]


def test_bf16_training_with_overwrite(
    make_config: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # bf16 autocast even where this CPU would fall back to fp32 (emulated bf16: slow, correct).
    monkeypatch.setattr(train_command, "fast_bf16_cpu", lambda: True)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "stale.txt").write_text("from an earlier run")
    config = make_config(training={"precision": "bf16", "max_steps": 8, "bleu_every": 0})

    result = invoke(["train", str(config), "--overwrite"])

    assert result.exit_code == 0, (result.stderr, result.exception)
    assert ", bf16, " in result.stderr  # the precision it trained in
    assert not (run_dir / "stale.txt").exists()  # --overwrite replaces the whole directory
    assert (run_dir / "model.safetensors").is_file()
    translator = Translator.load(run_dir)
    assert len(translator.translate(["i like tea", "dog"], beam_size=1)) == 2


def test_skip_invalid_skips_bad_rows_and_reports_their_count(
    make_config: Callable[..., Path], corpus: dict[str, Path], tmp_path: Path
) -> None:
    good = toy_pairs(300, seed=0)
    rows = [f"{s}\t{t}" for s, t in good[:100]]
    rows += ["three\tcolumns\there", "no tab at all", "source only\t"]
    rows += [f"{s}\t{t}" for s, t in good[100:]]
    corpus["train"].write_text("\n".join(rows) + "\n", encoding="utf-8")
    with corpus["test"].open("a", encoding="utf-8") as handle:
        handle.write("\tno source\n")
    config = make_config(data={"skip_invalid": True}, training={"max_steps": 2})

    result = invoke(["train", str(config)])

    assert result.exit_code == 0, (result.stderr, result.exception)
    assert (
        f"{corpus['train']}: skipped 2 invalid rows (first: line 101: expected exactly one tab "
        "between source and target, found 2)"
    ) in result.stderr
    # An empty side is not malformed: the cleaning drops it and counts it (train reads no test).
    assert "cleaning: 301 pairs read, 300 kept" in result.stderr
    assert re.search(r"\n  empty +1 ", result.stderr)
    assert "data: 300 train, 30 valid pairs" in result.stderr

    # evaluate reads the split again: the note goes to stderr, stdout holds only the scores.
    evaluation = invoke(["evaluate", str(tmp_path / "run"), "--split", "test", "--beam-size", "1"])
    assert evaluation.exit_code == 0, (evaluation.stderr, evaluation.exception)
    assert evaluation.stdout.startswith("BLEU = ")
    assert "(30 sentences)" in evaluation.stdout
    assert "skipped 1 invalid rows" in evaluation.stderr
