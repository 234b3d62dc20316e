"""Model weights in safetensors, written atomically and durably (temporary file, fsync, rename,
fsync of the directory)."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from transformer_mt.errors import UserError


def _default_mode() -> int:
    """The permissions a plain ``open(path, "w")`` would give (0o666 minus the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# atomic_write's temporary files: ".<final name>.<random>.tmp" beside the final file.
TEMPORARY = re.compile(r"\..+\.[A-Za-z0-9_]+\.tmp")


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(temporary_path)`` and rename the result over ``path``.

    ``path`` then holds either the old or the new content, never a mix, even if the process is
    killed mid-write; the data is flushed to disk (``fsync``) before the rename and the rename
    itself after it, so a power cut cannot leave an empty file under the final name either. The
    file gets ordinary permissions (``mkstemp`` would leave it 0600).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _default_mode())
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync(path.parent)


def _fsync(path: str | Path) -> None:
    """Flush a file's (or a directory's entries') data to disk."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if Path(path).is_dir() else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Delete temporary files that a killed :func:`atomic_write` left in ``directory``.

    Call it only where no other process is writing (a run directory at the start of training).
    """
    if not directory.is_dir():
        return []
    stale = [path for path in directory.iterdir() if TEMPORARY.fullmatch(path.name)]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def save_weights(model: nn.Module, path: Path) -> None:
    """Save the model's parameters (tied tensors once) to a safetensors file, atomically."""
    state = unique_tensors(model)
    atomic_write(path, lambda tmp: save_file(state, tmp, metadata={"format": "pt"}))


def load_weights(model: nn.Module, path: Path) -> None:
    """Load weights saved by :func:`save_weights`; a mismatch is a clear :class:`UserError`."""
    apply_weights(model, read_weights(path), path)


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; a missing, truncated or corrupt file is a
    :class:`UserError` naming it."""
    if not path.is_file():
        raise UserError(f"{path}: no such weights file")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise UserError(
            f"{path}: not a readable safetensors weights file "
            f"({' '.join(str(error).split())[:120]})"
        ) from None


def apply_weights(model: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    """Copy ``state`` into ``model``; missing, unexpected or mis-shaped tensors are an error."""
    expected = unique_tensors(model)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise UserError(
            f"{path}: weights do not match the model architecture "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    for name, tensor in state.items():
        if tensor.shape != expected[name].shape:
            raise UserError(
                f"{path}: {name} has shape {tuple(tensor.shape)}, "
                f"the model expects {tuple(expected[name].shape)}"
            )
    model.load_state_dict(state, strict=False)


def unique_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and persistent buffers, each shared tensor stored once under its first name."""
    seen: set[int] = set()
    out: dict[str, torch.Tensor] = {}
    for name, tensor in model.state_dict().items():
        key = tensor.data_ptr()
        if key in seen:
            continue
        seen.add(key)
        out[name] = tensor.detach().contiguous().cpu()
    return out
