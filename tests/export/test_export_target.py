"""``transformer-mt export`` never deletes or overwrites what it did not write (both formats).

Exporting into the run directory used to delete the run (CTranslate2's ``force=True``), and an
HF export silently replaced a user's ``config.json``. The rules themselves are tested on a
hand-made layout in ``test_target.py``; these run the command on the trained toy run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from cli.toy_data import assert_user_error, invoke, trained_toy_run
from transformer_mt.export.ct2 import export_ctranslate2
from transformer_mt.export.hf import export_hf

FORMATS = ["hf", "ctranslate2"]
MODULES = {"hf": "transformers", "ctranslate2": "ctranslate2"}
WRITTEN = {"hf": "model.safetensors", "ctranslate2": "model.bin"}  # a file each export writes
USER_BYTES = b'{"written by": "the user"}\n'


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_toy_run(tmp_path_factory).run_dir


@pytest.fixture(params=FORMATS)
def target_format(request: pytest.FixtureRequest) -> str:
    """Each format, skipped where its library is not installed."""
    pytest.importorskip(MODULES[request.param])
    return str(request.param)


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    """A directory holding a user's ``config.json`` (the name HF's export writes too)."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_bytes(USER_BYTES)
    return out


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` (relative) with its bytes; ``None`` for a directory."""
    return {
        str(path.relative_to(root)): None if path.is_dir() else path.read_bytes()
        for path in sorted(root.rglob("*"))
    }


def export(run_dir: Path, out: Path, target_format: str, *extra: str) -> Result:
    return invoke(["export", str(run_dir), "--format", target_format, str(out), *extra])


def test_non_empty_target_is_refused_and_untouched(
    run_dir: Path, user_dir: Path, target_format: str
) -> None:
    before = snapshot(user_dir.parent)
    assert_user_error(export(run_dir, user_dir, target_format), "not empty", "--overwrite")
    assert snapshot(user_dir.parent) == before


def test_overwrite_replaces_the_target(run_dir: Path, user_dir: Path, target_format: str) -> None:
    (user_dir / "notes.txt").write_text("mine")
    result = export(run_dir, user_dir, target_format, "--overwrite")
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert (user_dir / WRITTEN[target_format]).is_file()
    assert not (user_dir / "notes.txt").exists()
    assert [path.name for path in user_dir.parent.iterdir()] == ["out"]  # no temporary sibling


def test_empty_target_is_accepted(run_dir: Path, tmp_path: Path, target_format: str) -> None:
    (tmp_path / "out").mkdir()
    result = export(run_dir, tmp_path / "out", target_format)
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert (tmp_path / "out" / WRITTEN[target_format]).is_file()


@pytest.mark.parametrize("relative", [".", "..", "tokenizer", "checkpoints"])
def test_run_directory_is_refused_with_overwrite(
    run_dir: Path, target_format: str, relative: str
) -> None:
    before = snapshot(run_dir)
    result = export(run_dir, run_dir / relative, target_format, "--overwrite")
    assert_user_error(result, "run directory")
    assert snapshot(run_dir) == before
    assert not list(run_dir.parent.glob(".*tmp-*")) and not list(run_dir.glob(".*tmp-*"))


@pytest.mark.parametrize("overwrite", [(), ("--overwrite",)])
def test_file_target_is_refused(
    run_dir: Path, tmp_path: Path, target_format: str, overwrite: tuple[str, ...]
) -> None:
    out = tmp_path / "model"
    out.write_bytes(USER_BYTES)
    assert_user_error(export(run_dir, out, target_format, *overwrite), "not a directory")
    assert out.read_bytes() == USER_BYTES


def failing_writer(
    monkeypatch: pytest.MonkeyPatch, target_format: str, error: BaseException
) -> None:
    """Make the export fail after it has written part of its files."""
    if target_format == "hf":  # after save_pretrained has written the weights
        monkeypatch.setattr("transformer_mt.export.hf.write_tokenizer", _raise(error))
    else:  # after part of the model is on disk

        def write_model(spec: object, directory: Path, quantization: str | None) -> None:
            (directory / "model.bin").write_bytes(b"half a model")
            raise error

        monkeypatch.setattr("transformer_mt.export.ct2.write_model", write_model)


def _raise(error: BaseException) -> Callable[..., None]:
    def fail(*args: object, **kwargs: object) -> None:
        raise error

    return fail


def test_failure_mid_export_keeps_the_old_target(
    run_dir: Path, user_dir: Path, target_format: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing_writer(monkeypatch, target_format, RuntimeError("disk full"))
    before = snapshot(user_dir.parent)
    exporter = export_hf if target_format == "hf" else export_ctranslate2
    with pytest.raises(RuntimeError, match="disk full"):
        exporter(run_dir, user_dir, overwrite=True)
    assert snapshot(user_dir.parent) == before


def test_interrupted_export_keeps_the_old_target(
    run_dir: Path, user_dir: Path, target_format: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing_writer(monkeypatch, target_format, KeyboardInterrupt())
    before = snapshot(user_dir.parent)
    result = export(run_dir, user_dir, target_format, "--overwrite")
    assert result.exit_code == 130, (result.stderr, result.exception)
    assert snapshot(user_dir.parent) == before
