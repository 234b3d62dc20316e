"""``transformer-mt explain`` on the trained toy run: figures, a self-contained report, JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cli.toy_data import ToyRun, assert_user_error, invoke

PNG = b"\x89PNG\r\n\x1a\n"


def test_explain_writes_every_figure_and_a_self_contained_report(
    toy_run: ToyRun, tmp_path: Path
) -> None:
    out = tmp_path / "explain"
    result = invoke(
        [
            "explain", str(toy_run.run_dir), "--source", "you see a big red car",
            "--target", "你看大红车", "--out", str(out), "--sentences", "12", "--beam-size", "3",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, (result.stderr, result.exception)
    names = {
        "dimensions.png", "masks.png", "teacher-forcing.png", "attention-encoder.png",
        "attention-decoder-self.png", "attention-cross.png", "alignment.png",
        "greedy-trace.png", "beam-trace.png", "exposure-bias.png",
    }  # fmt: skip
    assert names <= {p.name for p in out.iterdir()}
    for name in names:
        assert (out / name).read_bytes().startswith(PNG), name
    html = (out / "report.html").read_text(encoding="utf-8")
    inlined = re.findall(r"<img src='data:image/png;base64,", html)
    assert len(inlined) == len(names)
    assert not re.search(r"(src|href)=['\"](?!data:)", html)  # nothing fetched from elsewhere
    assert "<script" not in html and "<link" not in html
    data = json.loads((out / "explanation.json").read_text(encoding="utf-8"))
    assert data["exposure"]["sentences"] == 12
    assert data["beam"]["beam_size"] == 3
    assert data["shift"]["rows"][0]["decoder_input"] == "<s>"
    assert "exposure bias on 12 pairs" in result.stdout
    assert f"greedy: {data['greedy']['translation']}" in result.stdout


def test_only_some_sections(toy_run: ToyRun, tmp_path: Path) -> None:
    out = tmp_path / "x"
    result = invoke(
        ["explain", str(toy_run.run_dir), "--only", "masks", "--only", "shift", "--out", str(out)]
    )
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert {p.name for p in out.glob("*.png")} == {"masks.png", "teacher-forcing.png"}
    data = json.loads((out / "explanation.json").read_text(encoding="utf-8"))
    assert data["target"] is None and data["shift"]["target_from_model"]
    assert data["attention"] is None and data["exposure"] is None
    assert len(data["masks"]["source_tokens"]) == 3  # the example and two validation pairs


def test_user_mistakes_are_one_line_errors(toy_run: ToyRun, tmp_path: Path) -> None:
    assert_user_error(invoke(["explain", str(tmp_path / "nowhere")]), "not a run directory")
    assert_user_error(invoke(["explain", str(toy_run.run_dir), "--source", "  "]), "empty")
    assert_user_error(
        invoke(["explain", str(toy_run.run_dir), "--src", str(toy_run.corpus["test_en"])]),
        "--src and --ref",
    )
