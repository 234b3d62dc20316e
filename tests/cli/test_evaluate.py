"""``transformer-mt evaluate``: sacreBLEU scores and signatures, on a split or on files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import sacrebleu
import yaml

from cli.toy_data import ToyRun, invoke


def evaluate(toy_run: ToyRun, *args: str) -> tuple[str, str]:
    result = invoke(["evaluate", str(toy_run.run_dir), "--beam-size", "1", *args])
    assert result.exit_code == 0, (result.stderr, result.exception)
    return result.stdout, result.stderr


def test_split_test_prints_scores_and_signatures(toy_run: ToyRun, tmp_path: Path) -> None:
    output = tmp_path / "hyp.zh"
    stdout, stderr = evaluate(toy_run, "--split", "test", "--output", str(output))

    hypotheses = output.read_text(encoding="utf-8").splitlines()
    references = toy_run.corpus["test_zh"].read_text(encoding="utf-8").splitlines()
    assert len(hypotheses) == len(references) == 30
    bleu = sacrebleu.corpus_bleu(hypotheses, [references], tokenize="zh")
    chrf = sacrebleu.corpus_chrf(hypotheses, [references])

    lines = stdout.splitlines()
    assert lines[0] == f"BLEU = {bleu.score:.2f}  chrF = {chrf.score:.2f}  (30 sentences)"
    assert lines[1].strip().startswith("BLEU signature: nrefs:1|case:mixed|eff:no|tok:zh|")
    assert lines[2].strip().startswith("chrF signature: nrefs:1|case:mixed|eff:yes|nc:6|nw:0|")
    assert "translating 30 sentences (greedy)" in stderr

    record = json.loads((toy_run.run_dir / "eval-test.json").read_text(encoding="utf-8"))
    assert record["data"] == "test"
    assert record["bleu"] == bleu.score
    assert record["chrf"] == chrf.score
    assert record["tokenizer"] == "zh"
    assert record["decoding"]["beam_size"] == 1
    assert record["bleu_signature"] == lines[1].strip()


def test_src_ref_files_score_like_the_same_split(toy_run: ToyRun) -> None:
    split_stdout, _ = evaluate(toy_run, "--split", "test")
    stdout, _ = evaluate(
        toy_run, "--src", str(toy_run.corpus["test_en"]), "--ref", str(toy_run.corpus["test_zh"])
    )
    assert stdout == split_stdout  # the same sentences, references and decoding
    record = json.loads((toy_run.run_dir / "eval-test.en.json").read_text(encoding="utf-8"))
    assert record["data"] == "test.en"


def test_valid_split(toy_run: ToyRun) -> None:
    stdout, _ = evaluate(toy_run, "--split", "valid")
    assert stdout.startswith("BLEU = ") and "(30 sentences)" in stdout
    assert (toy_run.run_dir / "eval-valid.json").is_file()


def test_decoding_follows_the_runs_evaluation_section_then_the_flags(
    toy_run: ToyRun, tmp_path: Path
) -> None:
    """No flag: the run config's evaluation: section; a flag changes only its own field."""
    config = yaml.safe_load((toy_run.run_dir / "config.yaml").read_text(encoding="utf-8"))
    config["evaluation"] = {"beam_size": 2, "length_penalty": 0.5, "max_length_offset": 3}
    run_dir = tmp_path / "run"
    shutil.copytree(toy_run.run_dir, run_dir)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    for flags, expected in [
        ([], {"beam_size": 2, "length_penalty": 0.5, "max_length_offset": 3}),
        (["--beam-size", "3"], {"beam_size": 3, "length_penalty": 0.5, "max_length_offset": 3}),
    ]:
        result = invoke(["evaluate", str(run_dir), "--split", "valid", *flags])
        assert result.exit_code == 0, (result.stderr, result.exception)
        record = json.loads((run_dir / "eval-valid.json").read_text(encoding="utf-8"))
        assert {key: record["decoding"][key] for key in expected} == expected
