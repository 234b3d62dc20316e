"""User mistakes exit with status 2 and one line ``error: ...`` on stderr, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cli.toy_data import ToyRun, assert_user_error, invoke


# -- config ----------------------------------------------------------------------------------
def test_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert_user_error(invoke(["train", str(missing)]), f"{missing}: no such config file")


def test_config_that_is_not_yaml(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("model: {d_model: [32\n")
    assert_user_error(invoke(["train", str(config)]), f"{config}: not valid YAML")


def test_config_with_an_unknown_key(make_config: Callable[..., Path]) -> None:
    config = make_config(model={"d_modle": 32})
    assert_user_error(
        invoke(["train", str(config)]), "unknown key(s) model.d_modle", "valid keys: d_model,"
    )


def test_config_with_an_unknown_section(make_config: Callable[..., Path]) -> None:
    config = make_config(optimizer={"lr": 1})
    assert_user_error(invoke(["train", str(config)]), "unknown section(s) ['optimizer']")


@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        ("model.d_modle=32", ["--set", "unknown key(s) model.d_modle", "valid keys: d_model"]),
        ("optimizer.lr=0.1", ["--set 'optimizer.lr'", "section in ['data', 'model'"]),
        ("d_model=32", ["--set 'd_model'", "expected section.key"]),
        ("model.d_model", ["--set 'model.d_model'", "expected key=value"]),
        ("model.d_model=big", ["d_model must be int, got 'big'"]),
        ("training.max_steps=2.5", ["max_steps must be int | None, got 2.5"]),
        ("training.lr=", ["lr must be float, got None"]),
        ("training.adam_betas=0.9", ["adam_betas must be tuple[float, float], got 0.9"]),
        ("training.adam_betas=[0.9, 1.5]", ["adam_betas must be two numbers in [0, 1)"]),
        ("data.train=5", ["train must be list[str] | str | None, got 5"]),
        ("data.train=[a.en, b.zh, c.de]", ["data.train must be a TSV path or [source_file"]),
        ("training.precision=fp8", ["training.precision must be one of ('fp32', 'bf16', 'fp16')"]),
    ],
)
def test_bad_overrides(
    make_config: Callable[..., Path], override: str, fragments: list[str]
) -> None:
    result = invoke(["train", str(make_config()), "--set", override])
    assert_user_error(result, *fragments)


def test_d_model_not_divisible_by_num_heads_names_both(make_config: Callable[..., Path]) -> None:
    config = make_config(model={"d_model": 30, "num_heads": 4})
    assert_user_error(invoke(["train", str(config)]), "d_model=30 is not divisible by num_heads=4")


# -- run directories -------------------------------------------------------------------------
def test_existing_run_dir_without_overwrite(
    make_config: Callable[..., Path], toy_run: ToyRun
) -> None:
    before = sorted(p.name for p in toy_run.run_dir.iterdir())
    result = invoke(["train", str(make_config()), "--set", f"run_dir={toy_run.run_dir}"])
    assert_user_error(result, f"{toy_run.run_dir}: run directory exists", "--overwrite")
    assert sorted(p.name for p in toy_run.run_dir.iterdir()) == before


@pytest.mark.parametrize(
    ("run_dir", "message"),
    [
        (".", "contains the working directory"),
        ("", "run_dir must be a directory path, got ''"),
        ("..", "contains the working directory"),
        ("work/..", "contains the working directory"),
    ],
)
def test_overwrite_never_deletes_the_working_directory(
    make_config: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_dir: str,
    message: str,
) -> None:
    config = make_config()
    work = tmp_path / "work"
    work.mkdir()
    (work / "precious.txt").write_text("keep me")
    monkeypatch.chdir(work)
    result = invoke(["train", str(config), "--set", f"run_dir={run_dir}", "--overwrite"])
    assert_user_error(result, message)
    assert (work / "precious.txt").read_text() == "keep me"


def test_run_dir_that_is_a_file(make_config: Callable[..., Path], tmp_path: Path) -> None:
    (tmp_path / "run").write_text("not a directory")
    result = invoke(["train", str(make_config()), "--overwrite"])
    assert_user_error(result, f"{tmp_path / 'run'}: run_dir exists and is not a directory")


@pytest.mark.parametrize("command", ["translate", "evaluate"])
def test_missing_run_dir(command: str, tmp_path: Path) -> None:
    missing = tmp_path / "no-run"
    assert_user_error(
        invoke([command, str(missing)], b"hello\n"), f"{missing}: not a run directory"
    )


# -- training data ---------------------------------------------------------------------------
def train_on(make_config: Callable[..., Path], tmp_path: Path) -> str:
    """Train with the (modified) private corpus; the data error must leave no run directory."""
    line = assert_user_error(invoke(["train", str(make_config())]))
    assert not (tmp_path / "run").exists()
    return line


def test_tsv_row_with_two_tabs_names_file_and_line(
    make_config: Callable[..., Path], corpus: dict[str, Path], tmp_path: Path
) -> None:
    lines = corpus["train"].read_text(encoding="utf-8").splitlines()
    lines[6] = "a source\ta target\tand more"
    corpus["train"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    line = train_on(make_config, tmp_path)
    assert line == (
        f"error: {corpus['train']}:7: expected exactly one tab between source and target, found 2"
    )


def test_parallel_files_with_different_line_counts(
    make_config: Callable[..., Path], corpus: dict[str, Path], tmp_path: Path
) -> None:
    with corpus["valid_zh"].open("a", encoding="utf-8") as handle:
        handle.write("多\n")
    line = train_on(make_config, tmp_path)
    assert f"{corpus['valid_en']}: has 30 lines but {corpus['valid_zh']} has 31" in line


def test_invalid_utf8_in_a_training_file(
    make_config: Callable[..., Path], corpus: dict[str, Path], tmp_path: Path
) -> None:
    corpus["train"].write_bytes(corpus["train"].read_bytes() + b"caf\xe9\t\xe5\x92\x96\n")
    line = train_on(make_config, tmp_path)
    assert f"{corpus['train']}:301: invalid UTF-8 (byte 0xe9 at column 4)" in line


def test_empty_target_side(
    make_config: Callable[..., Path], corpus: dict[str, Path], tmp_path: Path
) -> None:
    lines = corpus["valid_zh"].read_text(encoding="utf-8").splitlines()
    lines[2] = "   "
    corpus["valid_zh"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    line = train_on(make_config, tmp_path)
    assert line == f"error: {corpus['valid_zh']}:3: empty target side"


def test_corrected_data_then_trains_without_overwrite(
    make_config: Callable[..., Path], corpus: dict[str, Path], tmp_path: Path
) -> None:
    good = corpus["train"].read_bytes()
    corpus["train"].write_bytes(good + b"only one column\n")
    train_on(make_config, tmp_path)
    corpus["train"].write_bytes(good)
    result = invoke(["train", str(make_config(training={"max_steps": 1}))])
    assert result.exit_code == 0, result.stderr


# -- translate and evaluate options ----------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--beam-size", "0"], "--beam-size must be at least 1, got 0"),
        (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
        (["--max-tokens", "0"], "--max-tokens must be at least 1, got 0"),
        (["--sample", "--temperature", "0"], "--temperature must be positive, got 0.0"),
        (["--sample", "--top-p", "1.5"], "--top-p must be in (0, 1], got 1.5"),
        (["--n-best", "5", "--beam-size", "3"], "--n-best must be between 1 and --beam-size (3)"),
        (["--sample", "--n-best", "2"], "--n-best must be 1 with --sample"),
    ],
)
def test_bad_translate_options(toy_run: ToyRun, options: list[str], fragment: str) -> None:
    result = invoke(["translate", str(toy_run.run_dir), *options], b"i like tea\n")
    assert_user_error(result, fragment)


def test_src_without_ref(toy_run: ToyRun) -> None:
    result = invoke(["evaluate", str(toy_run.run_dir), "--src", str(toy_run.corpus["test_en"])])
    assert_user_error(result, "--src and --ref go together")


def test_split_with_src_and_ref(toy_run: ToyRun) -> None:
    corpus = toy_run.corpus
    args = ["--split", "test", "--src", str(corpus["test_en"]), "--ref", str(corpus["test_zh"])]
    assert_user_error(invoke(["evaluate", str(toy_run.run_dir), *args]), "either --split or")


def test_mismatched_src_and_ref_line_counts(toy_run: ToyRun, tmp_path: Path) -> None:
    reference = tmp_path / "short.zh"
    reference.write_text("我喜茶\n你喝水\n", encoding="utf-8")
    source = toy_run.corpus["test_en"]
    result = invoke(
        ["evaluate", str(toy_run.run_dir), "--src", str(source), "--ref", str(reference)]
    )
    assert_user_error(result, f"{source} has 30 lines but {reference} has 2", "line-aligned")


def test_missing_src_file(toy_run: ToyRun, tmp_path: Path) -> None:
    missing = tmp_path / "none.en"
    reference = toy_run.corpus["test_zh"]
    result = invoke(
        ["evaluate", str(toy_run.run_dir), "--src", str(missing), "--ref", str(reference)]
    )
    assert_user_error(result, f"{missing}: no such file")
