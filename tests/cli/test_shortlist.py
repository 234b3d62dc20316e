"""``transformer-mt shortlist`` and ``--shortlist``: made from the run's data, used by translate and
evaluate, refused with one line where it cannot serve."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cli.toy_data import ToyRun, assert_user_error, invoke


@pytest.fixture
def run_copy(toy_run: ToyRun, tmp_path: Path) -> Path:
    """The session's toy run, copied (the shortlist is written into the run directory)."""
    return Path(shutil.copytree(toy_run.run_dir, tmp_path / "run"))


def test_made_from_the_runs_data_then_used_by_translate_and_evaluate(run_copy: Path) -> None:
    made = invoke(["shortlist", str(run_copy), "--top", "5"])
    assert made.exit_code == 0, (made.stderr, made.exception)
    assert (run_copy / "shortlist.safetensors").is_file()
    assert made.stdout.startswith(f"wrote {run_copy / 'shortlist.safetensors'}: ")
    for dtype in ("fp32", "int8"):
        args = ["translate", str(run_copy), "--dtype", dtype]
        plain = invoke(args, "i like tea\nyou see a big red car\n")
        listed = invoke([*args, "--shortlist"], "i like tea\nyou see a big red car\n")
        assert listed.exit_code == 0, (listed.stderr, listed.exception)
        assert len(listed.stdout.splitlines()) == 2
        assert len(plain.stdout.splitlines()) == 2
    scored = invoke(["evaluate", str(run_copy), "--dtype", "int8", "--shortlist"])
    assert scored.exit_code == 0, (scored.stderr, scored.exception)
    assert "shortlist" in scored.stderr and "BLEU" in scored.stdout


def test_without_a_shortlist_file_or_with_controls_one_line_errors(run_copy: Path) -> None:
    missing = invoke(["translate", str(run_copy), "--shortlist"], "i like tea\n")
    assert_user_error(missing, "shortlist.safetensors", "transformer-mt shortlist")
    assert invoke(["shortlist", str(run_copy)]).exit_code == 0
    controlled = invoke(["translate", str(run_copy), "--shortlist", "--prefix", "我"], "i\n")
    assert_user_error(controlled, "shortlist", "prefixes or constraints")
    bad = invoke(["shortlist", str(run_copy), "--max-pairs", "0"])
    assert_user_error(bad, "--max-pairs")


def test_serve_refuses_a_missing_shortlist_in_one_line(run_copy: Path) -> None:
    result = invoke(["serve", str(run_copy), "--port", "0", "--dtype", "int8", "--shortlist"])
    assert_user_error(result, "shortlist")
