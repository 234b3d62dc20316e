"""Model weights in safetensors, written atomically and durably (temporary file, fsync, rename,
fsync of the directory)."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from transformer_mt.errors import UserError
from transformer_mt.model.factory import ArchitectureConfig, Model, build_model


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


def load_model(config: ArchitectureConfig, path: Path) -> Model:
    """The model ``config`` describes with the weights of ``path``.

    The file's tensor names and shapes (its header) are checked against a memory-less (meta
    device) model first: a ``model.json`` that does not fit the weights, say an edited
    ``d_model`` of a million, is a one-line error before gigabytes are allocated for it.
    """
    with torch.device("meta"):
        skeleton = build_model(config)
    expected = {name: tuple(tensor.shape) for name, tensor in _unique_entries(skeleton).items()}
    _check_names_and_shapes(expected, _header_shapes(path), path)
    model = build_model(config)
    apply_weights(model, read_weights(path), path)
    return model


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; a missing, truncated or corrupt file is a
    :class:`UserError` naming it."""
    with readable(path):
        return load_file(str(path))


def _header_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes from a safetensors header, without reading the tensors."""
    with readable(path), safe_open(str(path), framework="pt") as handle:
        names = handle.keys()  # a safetensors handle is not iterable
        return {name: tuple(handle.get_slice(name).get_shape()) for name in names}


@contextlib.contextmanager
def readable(path: Path, what: str = "safetensors weights file") -> Iterator[None]:
    """Reading the safetensors file ``path`` inside: a missing, truncated or corrupt file is a
    one-line :class:`UserError` naming it and ``what`` it should have been."""
    if not path.is_file():
        raise UserError(f"{path}: no such {what.removeprefix('safetensors ')}")
    try:
        yield
    except (SafetensorError, OSError, ValueError) as error:
        raise UserError(
            f"{path}: not a readable {what} ({' '.join(str(error).split())[:120]})"
        ) from None


def apply_weights(model: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    """Copy ``state`` into ``model``; missing, unexpected or mis-shaped tensors are an error."""
    expected = {name: tuple(tensor.shape) for name, tensor in unique_tensors(model).items()}
    _check_names_and_shapes(expected, {k: tuple(v.shape) for k, v in state.items()}, path)
    model.load_state_dict(state, strict=False)


def _check_names_and_shapes(
    expected: dict[str, tuple[int, ...]], found: dict[str, tuple[int, ...]], path: Path
) -> None:
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing or unexpected:
        raise UserError(
            f"{path}: weights do not match the model architecture "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    for name, shape in found.items():
        if shape != expected[name]:
            raise UserError(f"{path}: {name} has shape {shape}, the model expects {expected[name]}")


def _unique_entries(model: nn.Module) -> dict[str, torch.Tensor]:
    """:func:`unique_tensors`' names for a model on the meta device (no data pointers there:
    a shared tensor is recognised as the same object)."""
    seen: set[int] = set()
    out: dict[str, torch.Tensor] = {}
    for name, tensor in model.state_dict(keep_vars=True).items():
        if id(tensor) not in seen:
            seen.add(id(tensor))
            out[name] = tensor
    return out


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
