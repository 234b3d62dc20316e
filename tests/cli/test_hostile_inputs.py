"""Hostile inputs, command by command: each mistake is one ``error:`` line, exit 2, nothing touched.

Table-driven: a :class:`Case` names the command line, the class of hostile input (missing,
empty, truncated, wrong-type, wrong-encoding, out-of-range, nan/inf, huge), how to make it
(a damage to a private copy of the trained toy run, its corpus or a config file), and words
the error line must contain. Every case also checks that no file in the workspace changed (size,
bytes and modification time of every file), and that a failed ``train`` left no run directory.
The server's routes are covered the same way in ``tests/serve/test_errors.py``; signals during
training in ``tests/training/test_resume.py``, during export in ``tests/export/``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from click.testing import Result

from cli.toy_data import ToyRun, invoke, toy_config, write_config
from transformer_mt.data.tokenizer import Tokenizer

Damage = Callable[[Path], None]  # applied to the workspace before the command runs


@dataclass(frozen=True)
class Case:
    command: str  # arguments with {run}, {config}, {data}, {out}, {notes} placeholders
    kind: str  # missing | empty | truncated | wrong-type | wrong-encoding | out-of-range | ...
    damage: Damage | None
    expect: tuple[str, ...]  # fragments of the one error line
    stdin: str | None = None
    id: str = field(default="", compare=False)


# -- damages: each takes the workspace root ---------------------------------------------------
def at(relative: str, change: Callable[[Path], None]) -> Damage:
    return lambda root: change(root / relative)


def remove(path: Path) -> None:
    shutil.rmtree(path) if path.is_dir() else path.unlink()


def empty(path: Path) -> None:
    path.write_bytes(b"")


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def torn_middle(path: Path) -> None:
    """A line cut short in the middle of the file (a torn *last* line is a killed run's and is
    read without it)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1] = lines[1][: len(lines[1]) // 2] + "\n"
    path.write_text("".join(lines), encoding="utf-8")


def text(path: Path) -> None:
    path.write_text("these are not the bytes you are looking for\n", encoding="utf-8")


def blank(path: Path) -> None:
    path.write_text("   \n", encoding="utf-8")


def latin1(path: Path) -> None:
    path.write_bytes(b"caf\xe9: \xff\xfe\n")


def each(relatives: list[str], change: Callable[[Path], None]) -> Damage:
    def apply(root: Path) -> None:
        for relative in relatives:
            change(root / relative)

    return apply


def checkpoints(change: Callable[[Path], None]) -> Damage:
    def apply(root: Path) -> None:
        for path in sorted((root / "run" / "checkpoints").iterdir()):
            change(path)

    return apply


def model_json(**fields: object) -> Damage:
    def apply(root: Path) -> None:
        path = root / "run" / "model.json"
        path.write_text(json.dumps(json.loads(path.read_text()) | fields))

    return apply


def no_weights(root: Path) -> None:
    for name in ("model.safetensors", "last.safetensors"):
        (root / "run" / name).unlink()


WEIGHTS = "run/model.safetensors"
SPM = "run/tokenizer/spm.model"
NOT_WEIGHTS = "not a readable safetensors weights file"
LINE = "i like tea\n"

CASES = [
    # translate: the run directory's files
    Case("translate {run}", "missing", no_weights, ("no model.safetensors",), LINE),
    Case("translate {run}", "empty", at(WEIGHTS, empty), (WEIGHTS, NOT_WEIGHTS), LINE),
    Case("translate {run}", "truncated", at(WEIGHTS, truncate), (NOT_WEIGHTS,), LINE),
    Case("translate {run}", "wrong-type", at(WEIGHTS, text), (NOT_WEIGHTS,), LINE),
    Case("translate {run} --weights {notes}", "wrong-type", None, (NOT_WEIGHTS,), LINE),
    Case("translate {run}", "missing", at("run/tokenizer", remove), ("no such file",), LINE),
    Case("translate {run}", "truncated", at(SPM, truncate), ("SentencePiece model",), LINE),
    Case("translate {run}", "wrong-type", at(SPM, text), ("SentencePiece model",), LINE),
    Case(
        "translate {run}",
        "wrong-encoding",
        at("run/tokenizer/tokenizer.json", latin1),
        ("tokenizer.json", "unreadable tokenizer manifest"),
        LINE,
    ),
    Case("translate {run}", "missing", at("run/model.json", remove), ("no model.json",), LINE),
    Case("translate {run}", "empty", at("run/model.json", empty), ("model.json",), LINE),
    Case("translate {run}", "wrong-encoding", at("run/model.json", latin1), ("model.json",), LINE),
    Case("translate {run}", "wrong-type", model_json(d_model="wide"), ("model.json",), LINE),
    Case("translate {run}", "out-of-range", model_json(num_heads=-2), ("num_heads",), LINE),
    Case("translate {run}", "nan/inf", model_json(dropout=float("nan")), ("dropout",), LINE),
    Case(
        "translate {run}",
        "huge",
        model_json(d_model=2**30, d_ff=2**30),
        ("the model expects (1073741824,)",),
        LINE,
    ),
    # translate: its flags
    Case("translate {run} --beam-size abc", "wrong-type", None, ("'abc' is not a valid integer",)),
    Case("translate {run} --beam-size 0", "out-of-range", None, ("--beam-size must be at least",)),
    Case("translate {run} --top-p 1.5", "out-of-range", None, ("--top-p must be in (0, 1]",)),
    Case("translate {run} --length-penalty nan", "nan/inf", None, ("--length-penalty", "finite")),
    Case("translate {run} --max-length-ratio inf", "nan/inf", None, ("--max-length-ratio",)),
    Case("translate {run} --sample --seed 1180591620717411303424", "huge", None, ("--seed",)),
    Case("translate {run} --beam-size 1000000000000", "huge", None, ("out of memory",), LINE),
    Case("translate {run} --device tpu", "wrong-type", None, ("device 'tpu'",), LINE),
    Case("translate {notes}", "wrong-type", None, ("is a file",)),
    Case("translate {out}", "missing", None, ("not a run directory",), LINE),
    Case("translate", "missing", None, ("Missing argument 'RUN_DIR'",)),
    Case("translate {run} --no-such-flag", "wrong-type", None, ("No such option",)),
    # translate: output controls (prefixes, terminology constraints)
    Case("translate {run} --constraints ''", "empty", None, ("empty constraint",), LINE),
    Case(
        "translate {run} --prefix @{notes}", "empty", at("notes.txt", blank), ("to nothing",), LINE
    ),
    Case(f"translate {{run}} --constraints {'鱼' * 30}", "huge", None, ("output limit",), LINE),
    Case(f"translate {{run}} --prefix {'我' * 30}", "huge", None, ("prefix is 31 tokens",), LINE),
    Case("translate {run} --constraints 鱼 --sample", "wrong-type", None, ("not sampling",), LINE),
    Case(
        "translate {run} --constraints 鱼 --constraints 鸟 --beam-size 2",
        "out-of-range",
        None,
        ("beam_size of at least 3",),
        LINE,
    ),
    Case("translate {run} --prefix @{out}/prefixes.txt", "missing", None, ("no such file",), LINE),
    Case(
        "translate {run} --constraints @{notes}",
        "wrong-encoding",
        at("notes.txt", latin1),
        ("not UTF-8",),
        LINE,
    ),
    # check, explain, export, serve: the same files reach each through one loader
    Case("check {run}", "truncated", at(WEIGHTS, truncate), (NOT_WEIGHTS,)),
    Case("check {run}", "truncated", at(SPM, truncate), ("SentencePiece model",)),
    Case("check {run}", "huge", model_json(d_model=2**30, d_ff=2**30), ("expects",)),
    Case("explain {run} --only trace --out {out}", "empty", at(WEIGHTS, empty), (NOT_WEIGHTS,)),
    Case("explain {run} --source '' --only trace --out {out}", "empty", None, ("empty",)),
    Case("explain {run} --beam-size 0 --only trace --out {out}", "out-of-range", None, ("beam",)),
    Case("export {run} {out} --format hf", "truncated", at(WEIGHTS, truncate), (NOT_WEIGHTS,)),
    Case("export {run} {notes} --format hf", "wrong-type", None, ("not a directory",)),
    Case("export {run} {run} --format hf", "wrong-type", None, ("run directory",)),
    Case("export {run} {out} --format onnx", "wrong-type", None, ("'onnx' is not one of",)),
    Case("serve {run} --port 0", "truncated", at(WEIGHTS, truncate), (NOT_WEIGHTS,)),
    Case("serve {run} --port 70000", "out-of-range", None, ("--port", "got 70000")),
    Case("serve {run} --port 0 --max-chars 0", "out-of-range", None, ("max_chars",)),
    Case("serve {run} --port 0 --device tpu", "wrong-type", None, ("device 'tpu'",)),
    # evaluate: the run's config and the data it names
    Case("evaluate {run}", "missing", at("run/config.yaml", remove), ("no config.yaml",)),
    Case("evaluate {run}", "wrong-encoding", at("run/config.yaml", latin1), ("not UTF-8",)),
    Case("evaluate {run}", "wrong-type", at("run/config.yaml", text), ("must be a mapping",)),
    Case("evaluate {run}", "missing", at("data/test.tsv", remove), ("test.tsv",)),
    Case("evaluate {run}", "wrong-encoding", at("data/test.tsv", latin1), ("invalid UTF-8",)),
    Case("evaluate {run}", "empty", at("data/test.tsv", empty), ("test",)),
    Case("evaluate {run} --split dev", "wrong-type", None, ("'dev' is not one of",)),
    # average, plot, resume: checkpoints and logs
    Case("average {run}", "truncated", checkpoints(truncate), ("not a readable",)),
    Case("average {run} --last 0", "out-of-range", None, ("--last",)),
    Case("train --resume {run}", "truncated", checkpoints(truncate), ("no loadable checkpoint",)),
    Case("train --resume {run}", "empty", checkpoints(empty), ("no loadable checkpoint",)),
    Case("plot {run}", "missing", at("run/metrics.jsonl", remove), ("no metrics",)),
    Case("plot {run}", "truncated", at("run/metrics.jsonl", torn_middle), ("metrics.jsonl:2:",)),
    Case("plot {run}", "wrong-type", at("run/metrics.jsonl", text), ("no metrics to plot",)),
    Case("plot {run}", "wrong-encoding", at("run/metrics.jsonl", latin1), ("metrics.jsonl",)),
    # train: the config file, its overrides, and the data it names
    Case("train {out}", "missing", None, ("no such config file",)),
    Case("train {config}", "empty", at("config.yaml", empty), ("set at least one of",)),
    Case("train {config}", "wrong-encoding", at("config.yaml", latin1), ("not UTF-8",)),
    Case("train {config}", "wrong-type", at("config.yaml", text), ("must be a mapping",)),
    Case("train {config} --set training.max_steps=-5", "out-of-range", None, ("max_steps",)),
    Case("train {config} --set training.lr=.nan", "nan/inf", None, ("training.lr", "finite")),
    Case("train {config} --set training.clip_norm=.inf", "nan/inf", None, ("clip_norm",)),
    Case("train {config} --set data.vocab_size=10**12", "wrong-type", None, ("vocab_size",)),
    Case("train {config} --set data.vocab_size=1000000000000", "huge", None, ("vocab_size",)),
    Case("train {config} --set training.device=tpu", "wrong-type", None, ("training.device",)),
    Case("train {config} --set model.d_model=31", "out-of-range", None, ("not divisible",)),
    Case("train {config} --set model=[1]", "wrong-type", None, ("--set",)),
    Case("train {config} --set training.lr", "wrong-type", None, ("expected key=value",)),
    Case("train {config}", "missing", at("data/train.tsv", remove), ("train.tsv",)),
    Case("train {config}", "empty", at("data/train.tsv", empty), ("train",)),
    Case("train {config}", "wrong-encoding", at("data/train.tsv", latin1), ("invalid UTF-8",)),
    Case("train {config}", "wrong-type", at("data/train.tsv", text), ("train.tsv:1",)),
    Case("train {config} --set data.max_length=1", "out-of-range", None, ("nothing to train",)),
    Case(
        "train {config} --set model.d_model=1048576 --set model.d_ff=1048576",
        "huge",
        None,
        ("out of memory",),
    ),
]


def case_id(case: Case) -> str:
    return f"{case.kind}: {case.command.split()[0]}: {case.command}"


@pytest.fixture(scope="module")
def pristine(toy_run: ToyRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workspace every case starts from: the run, its corpus, a config, a text file."""
    root = tmp_path_factory.mktemp("hostile")
    shutil.copytree(toy_run.run_dir, root / "run")
    shutil.copytree(toy_run.corpus["train"].parent, root / "data")
    corpus = {name: root / "data" / path.name for name, path in toy_run.corpus.items()}
    write_config(root / "config.yaml", toy_config(corpus, root / "new-run"))
    (root / "notes.txt").write_text("a file that is not a run, a model or a directory\n")
    config = yaml_text = (root / "run" / "config.yaml").read_text(encoding="utf-8")
    # The run's own config names the session corpus: point it at this workspace's copy.
    for name, path in toy_run.corpus.items():
        yaml_text = yaml_text.replace(str(path), str(corpus[name]))
    assert yaml_text != config
    (root / "run" / "config.yaml").write_text(yaml_text, encoding="utf-8")
    return root


def fingerprint(root: Path) -> dict[str, tuple[int, int, str]]:
    """Size, modification time and content hash of every file under ``root``."""
    return {
        str(path.relative_to(root)): (
            path.stat().st_size,
            path.stat().st_mtime_ns,
            hashlib.sha256(path.read_bytes()).hexdigest(),
        )
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def no_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a hostile input reached uvicorn.run")

    monkeypatch.setattr(uvicorn, "run", refuse)


@pytest.mark.usefixtures("no_serving")
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_a_hostile_input_is_one_error_line_and_touches_nothing(
    case: Case, pristine: Path, tmp_path: Path
) -> None:
    root = tmp_path / "workspace"
    shutil.copytree(pristine, root)
    config = root / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace(str(pristine), str(root)))
    (root / "run" / "config.yaml").write_text(
        (root / "run" / "config.yaml").read_text(encoding="utf-8").replace(str(pristine), str(root))
    )
    if case.damage is not None:
        case.damage(root)
    before = fingerprint(root)
    places = {"run": root / "run", "config": config, "data": root / "data"}
    places |= {"out": root / "out", "notes": root / "notes.txt"}
    args = [part.format(**places) for part in _split(case.command)]
    assert_one_error(invoke(args, case.stdin), *case.expect)
    assert fingerprint(root) == before
    assert not (root / "out").exists()
    assert not (root / "new-run").exists()


def assert_one_error(result: Result, *fragments: str) -> None:
    """Exit status 2, no traceback, and one ``error:`` line, the last (``train`` logs its
    progress before it), naming ``fragments``."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert errors == lines[-1:], result.stderr
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    assert result.stdout == ""


def _split(command: str) -> list[str]:
    """``command`` split at spaces; ``''`` is an empty argument."""
    return ["" if part == "''" else part for part in command.split()]


def test_every_class_of_hostile_input_is_covered() -> None:
    kinds = {case.kind for case in CASES}
    expected = {"missing", "empty", "truncated", "wrong-type", "wrong-encoding"}
    assert kinds == expected | {"out-of-range", "nan/inf", "huge"}
    commands = {case.command.split()[0] for case in CASES}
    assert commands == {
        "translate", "check", "explain", "export", "serve", "evaluate", "average", "plot", "train"
    }  # fmt: skip


def test_ctrl_c_while_a_new_run_is_set_up_leaves_no_run_directory(
    pristine: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Tokenizer, "train", interrupted)
    result = invoke(["train", str(pristine / "config.yaml")])
    assert result.exit_code == 130, result.output
    assert result.stderr.strip().splitlines()[-1] == "interrupted"
    assert not (pristine / "new-run").exists()
