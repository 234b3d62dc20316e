"""Where an export is written: checked first, built beside the target, then renamed into place.

An export never deletes or overwrites what it did not write:

- the run directory, a directory containing it, and the run's own files and folders
  (``RUN/tokenizer``, ``RUN/checkpoints``, ...) are refused, even with ``overwrite``;
- an existing file is refused; a non-empty directory is refused unless ``overwrite``;
- the export is written into a fresh hidden sibling (``.OUT.tmp-XXXXXXXX``) and renamed to
  ``OUT`` only when complete; with ``overwrite`` the old ``OUT`` is renamed aside first and
  removed only once the new one is in place. Any failure, ``KeyboardInterrupt`` included,
  removes the sibling and leaves the old ``OUT`` as it was.

Paths are compared resolved (symlinks followed), so a link to the run directory is refused too.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from transformer_mt.artifacts.rundir import RunDir
from transformer_mt.errors import UserError


def run_paths(run: RunDir) -> list[Path]:
    """Every path the run owns, as :class:`RunDir` spells them: its path properties and the
    ``evaluate`` records present. Read from the class so that a new run file is protected too.
    """
    owned = [
        getattr(run, name) for name, member in vars(RunDir).items() if isinstance(member, property)
    ]
    records = run.evaluation_record("*")
    return [path for path in owned if isinstance(path, Path)] + sorted(
        records.parent.glob(records.name)
    )


def check_target(out: Path, run: RunDir, *, overwrite: bool) -> Path:
    """The resolved target ``out``, or :class:`UserError` when writing there is not allowed."""
    target = Path(out).resolve()
    run_root = run.path.resolve()
    if target == run_root or target in run_root.parents:
        raise UserError(f"{out}: is or contains the run directory {run.path}; export elsewhere")
    for path in run_paths(RunDir(run_root)):
        owned = path.resolve()  # a run file may itself be a link (a shared tokenizer, ...)
        if target == owned or owned in target.parents:
            raise UserError(f"{out}: belongs to the run directory ({owned.name}); export elsewhere")
    if target.exists() and not target.is_dir():
        raise UserError(f"{out}: exists and is not a directory")
    if not overwrite and target.is_dir() and any(target.iterdir()):
        raise UserError(f"{out}: directory is not empty (--overwrite replaces it)")
    return target


@contextlib.contextmanager
def staged_directory(out: Path, run: RunDir, *, overwrite: bool = False) -> Iterator[Path]:
    """Check ``out`` (:func:`check_target`), yield an empty sibling to write the export into,
    and move it to ``out`` when the block succeeds; on any exception remove it and re-raise.
    """
    target = check_target(out, run, overwrite=overwrite)
    created = _make_parents(target.parent)
    staging = _fresh_sibling(target, "tmp", create=True)
    try:
        yield staging
        _move_into_place(staging, target, out, overwrite=overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for directory in reversed(created):  # only the still-empty folders we made
            _remove_if_empty(directory)
        raise


def _remove_if_empty(directory: Path) -> None:
    """``rmdir``: a folder someone else has written into since (or already gone) is left alone."""
    with contextlib.suppress(OSError):
        directory.rmdir()


def _make_parents(directory: Path) -> list[Path]:
    """Create ``directory`` and its missing parents; return the ones created, outermost first."""
    missing = [path for path in (directory, *directory.parents) if not path.exists()][::-1]
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"{directory}: cannot create the directory ({error.strerror})") from None
    return missing


def _fresh_sibling(target: Path, kind: str, *, create: bool) -> Path:
    """A hidden unused path ``.NAME.KIND-XXXXXXXX`` beside ``target``; a directory if ``create``.

    ``Path.mkdir`` rather than ``tempfile.mkdtemp``: the export ends up with the usual
    permissions (``0o777`` less the umask), not ``mkdtemp``'s private ``0o700``.
    """
    while True:
        sibling = target.parent / f".{target.name}.{kind}-{secrets.token_hex(4)}"
        if create:
            try:
                sibling.mkdir()
            except FileExistsError:
                continue
            return sibling
        if not sibling.exists():
            return sibling


def _move_into_place(staging: Path, target: Path, out: Path, *, overwrite: bool) -> None:
    """Rename ``staging`` to ``target``. Without ``overwrite`` only a missing or empty ``target``
    is replaced (checked again here, by ``rmdir``); with it, a non-empty ``target`` is renamed
    aside, put back if the rename fails, and removed once the new one is in place.
    """
    if not target.exists():
        _rename(staging, target, out)
    elif not overwrite or not any(target.iterdir()):
        _rename_onto_empty(staging, target, out)
    else:
        aside = _fresh_sibling(target, "old", create=False)
        _rename(target, aside, out)
        try:
            _rename(staging, target, out)
        except BaseException:
            aside.rename(target)
            raise
        _remove_replaced(aside, out)


def _remove_replaced(aside: Path, out: Path) -> None:
    """Delete the old export renamed aside (the user asked for it with ``overwrite``)."""
    try:
        shutil.rmtree(aside)
    except OSError as error:
        raise UserError(
            f"{out}: exported, but the replaced copy could not be removed: delete {aside} "
            f"({error.strerror})"
        ) from None


def _rename_onto_empty(staging: Path, target: Path, out: Path) -> None:
    """Replace the empty directory ``target``; ``rmdir`` refuses if anything appeared in it."""
    try:
        target.rmdir()
    except OSError as error:
        raise UserError(f"{out}: cannot replace the directory ({error.strerror})") from None
    _rename(staging, target, out)


def _rename(source: Path, destination: Path, out: Path) -> None:
    """``source.rename(destination)`` with an :class:`OSError` as a one-line user error."""
    try:
        source.rename(destination)
    except OSError as error:
        raise UserError(f"{out}: cannot move the export into place ({error.strerror})") from None
