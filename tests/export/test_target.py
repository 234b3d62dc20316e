"""``staged_directory``: where an export may be written, and that a failed one changes nothing.

A hand-made run directory stands in for a trained run (only its layout matters here); the
CLI tests with real exports are in ``test_export_target.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from transformer_mt.artifacts.rundir import RunDir
from transformer_mt.errors import UserError
from transformer_mt.export import target as target_module
from transformer_mt.export.target import staged_directory


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` (relative) with its bytes; ``None`` for a directory."""
    return {
        str(path.relative_to(root)): None if path.is_dir() else path.read_bytes()
        for path in sorted(root.rglob("*"))
    }


@pytest.fixture
def run(tmp_path: Path) -> RunDir:
    """A run directory's layout: config, weights, tokenizer, checkpoints, an evaluation."""
    run = RunDir(tmp_path / "run")
    run.tokenizer_dir.mkdir(parents=True)
    run.checkpoints_dir.mkdir()
    for path, content in (
        (run.config_file, b"model: {}\n"),
        (run.model_config_file, b"{}\n"),
        (run.weights, b"weights"),
        (run.tokenizer_dir / "spm.model", b"pieces"),
        (run.checkpoints_dir / "step-60.pt", b"checkpoint"),
        (run.evaluation_record("test"), b"{}\n"),
    ):
        path.write_bytes(content)
    return run


@pytest.fixture
def old_export(tmp_path: Path) -> Path:
    """A non-empty directory with a user's file in it."""
    out = tmp_path / "exports" / "model"
    out.mkdir(parents=True)
    (out / "config.json").write_bytes(b'{"mine": true}\n')
    return out


def write_export(directory: Path) -> None:
    (directory / "model.bin").write_bytes(b"new model")


def test_missing_target_and_parents_are_created(run: RunDir, tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "model"
    with staged_directory(out, run) as staging:
        assert staging.parent == out.parent and staging.name.startswith(".model.tmp-")
        write_export(staging)
    assert snapshot(tmp_path / "a") == {
        "b": None,
        "b/model": None,
        "b/model/model.bin": b"new model",
    }


def test_empty_directory_is_accepted(run: RunDir, tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    with staged_directory(out, run) as staging:
        write_export(staging)
    assert snapshot(tmp_path / "empty") == {"model.bin": b"new model"}


def test_non_empty_directory_is_refused_and_untouched(run: RunDir, old_export: Path) -> None:
    before = snapshot(old_export.parent)
    with (
        pytest.raises(UserError, match=r"not empty.*--overwrite"),
        staged_directory(old_export, run),
    ):
        pytest.fail("the block must not run")
    assert snapshot(old_export.parent) == before


def test_overwrite_replaces_and_leaves_no_sibling(run: RunDir, old_export: Path) -> None:
    with staged_directory(old_export, run, overwrite=True) as staging:
        write_export(staging)
    assert snapshot(old_export.parent) == {"model": None, "model/model.bin": b"new model"}


@pytest.mark.parametrize("overwrite", [False, True])
def test_file_target_is_refused(run: RunDir, tmp_path: Path, overwrite: bool) -> None:
    out = tmp_path / "model.bin"
    out.write_bytes(b"a file")
    with (
        pytest.raises(UserError, match="not a directory"),
        staged_directory(out, run, overwrite=overwrite),
    ):
        pytest.fail("the block must not run")
    assert out.read_bytes() == b"a file"


@pytest.mark.parametrize(
    "relative",
    [
        ".",
        "..",
        "tokenizer",
        "checkpoints",
        "checkpoints/new",
        "model.safetensors",
        "eval-test.json",
    ],
)
def test_run_directory_and_its_paths_are_refused_with_overwrite(
    run: RunDir, tmp_path: Path, relative: str
) -> None:
    before = snapshot(tmp_path)
    with (
        pytest.raises(UserError, match="run directory"),
        staged_directory(run.path / relative, run, overwrite=True),
    ):
        pytest.fail("the block must not run")
    assert snapshot(tmp_path) == before


def test_link_to_the_run_directory_is_refused(run: RunDir, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(run.path, target_is_directory=True)
    before = snapshot(run.path)
    with (
        pytest.raises(UserError, match="run directory"),
        staged_directory(link, run, overwrite=True),
    ):
        pytest.fail("the block must not run")
    assert snapshot(run.path) == before


def test_new_folder_inside_the_run_directory_is_allowed(run: RunDir) -> None:
    before = snapshot(run.path)
    with staged_directory(run.path / "exported", run) as staging:
        write_export(staging)
    assert snapshot(run.path) == before | {"exported": None, "exported/model.bin": b"new model"}


@pytest.mark.parametrize("error", [RuntimeError("writer failed"), KeyboardInterrupt()])
def test_failure_keeps_the_old_target_and_leaves_no_sibling(
    run: RunDir, old_export: Path, error: BaseException
) -> None:
    before = snapshot(old_export.parent)
    with pytest.raises(type(error)), staged_directory(old_export, run, overwrite=True) as staging:
        write_export(staging)  # half an export, then the failure
        raise error
    assert snapshot(old_export.parent) == before


def test_failure_removes_the_parents_it_created(run: RunDir, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), staged_directory(tmp_path / "a" / "b" / "model", run):
        raise RuntimeError("writer failed")
    assert not (tmp_path / "a").exists()


def test_failed_swap_puts_the_old_target_back(
    run: RunDir, old_export: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old target is already renamed aside when the new one fails to move in."""
    rename = target_module._rename

    def failing_rename(source: Path, destination: Path, out: Path) -> None:
        if ".tmp-" in source.name:
            raise UserError(f"{out}: cannot move the export into place (simulated)")
        rename(source, destination, out)

    monkeypatch.setattr(target_module, "_rename", failing_rename)
    before = snapshot(old_export.parent)
    with (
        pytest.raises(UserError, match="simulated"),
        staged_directory(old_export, run, overwrite=True) as staging,
    ):
        write_export(staging)
    assert snapshot(old_export.parent) == before
