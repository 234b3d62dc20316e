"""Help texts carry examples; ``python -m transformer_mt`` is a working entry point."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import transformer_mt
from cli.toy_data import ToyRun, invoke

SRC = Path(transformer_mt.__file__).resolve().parents[1]


def run_module(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """``python -m transformer_mt ARGS`` in a fresh interpreter."""
    paths = [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    return subprocess.run(
        [sys.executable, "-m", "transformer_mt", *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )


def example_lines(help_text: str, command: str) -> list[str]:
    """Indented command lines such as ``  transformer-mt train ...`` or ``  echo x | ...``."""
    pattern = rf"^ +(?:echo .* \| )?transformer-mt {command} \S.*$"
    return re.findall(pattern, help_text, flags=re.MULTILINE)


@pytest.mark.parametrize("command", ["train", "translate", "evaluate"])
def test_every_subcommand_help_shows_an_example(command: str) -> None:
    result = invoke([command, "--help"])
    assert result.exit_code == 0
    assert re.match(rf"Usage: \S+ {command} ", result.stdout)
    assert "Example" in result.stdout
    assert example_lines(result.stdout, command)


def test_main_help_shows_examples_of_every_subcommand() -> None:
    result = invoke(["--help"])
    assert result.exit_code == 0
    for command in ("train", "translate", "evaluate"):
        assert example_lines(result.stdout, command), command


def test_module_entry_point_help_and_version() -> None:
    help_result = run_module("--help")
    assert help_result.returncode == 0, help_result.stderr
    text = help_result.stdout.decode()
    assert text.startswith("Usage: transformer-mt ")
    for command in ("train", "translate", "evaluate"):
        assert example_lines(text, command), command
    version = run_module("--version")
    assert version.returncode == 0
    assert (
        version.stdout.decode().strip() == f"transformer-mt, version {transformer_mt.__version__}"
    )


def test_module_entry_point_translates_real_stdin(toy_run: ToyRun) -> None:
    stdin = b"i like tea\n\nbad \xff byte\n" + "🍵 مرحبا\n".encode()
    result = run_module("translate", str(toy_run.run_dir), "--beam-size", "1", stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode("utf-8").count("\n") == 4
    assert result.stdout.decode("utf-8").split("\n")[1] == ""
    assert b"warning: stdin line 3: invalid UTF-8" in result.stderr


def test_module_entry_point_user_error() -> None:
    result = run_module("translate", "no/such/run")
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == [
        "error: no/such/run: not a run directory (no model.json); "
        "train one with 'transformer-mt train CONFIG'"
    ]
