"""``translate --prefix`` and ``--constraints``: text for every line, or a file line by line.

A value is the text itself, or ``@FILE`` (or the path of an existing file): line N of the file
belongs to input line N. A prefix file holds one prefix a line (an empty line: none); a
constraints value or line holds TAB-separated target phrases (an empty line: none). Inline
constraints apply to every input line, next to those of a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from transformer_mt.errors import UserError


@dataclass(frozen=True)
class PerLine:
    """One flag's values: the same for every line (``every``) or line by line (``lines``)."""

    flag: str
    every: tuple[str, ...] = ()
    lines: tuple[str, ...] | None = None
    path: str = ""

    def at(self, index: int) -> tuple[str, ...]:
        """The values of input line ``index`` (0-based)."""
        if self.lines is None:
            return self.every
        if index >= len(self.lines):
            raise UserError(
                f"{self.flag} file {self.path} has {len(self.lines)} lines, fewer than the input"
            )
        return (self.lines[index], *self.every)

    def check_used(self, count: int) -> None:
        """After the input's ``count`` lines: a file may not have lines left over."""
        if self.lines is not None and len(self.lines) > count:
            raise UserError(
                f"{self.flag} file {self.path} has {len(self.lines)} lines but the input "
                f"has {count}"
            )


def read_values(flag: str, values: tuple[str, ...]) -> PerLine | None:
    """The flag's values (None when not given); at most one of them a file."""
    if not values:
        return None
    files = [v for v in values if v.startswith("@") or Path(v).is_file()]
    if len(files) > 1:
        raise UserError(f"{flag} takes at most one file, got {len(files)}")
    every = tuple(v for v in values if v not in files)
    if not files:
        return PerLine(flag, every)
    path = files[0][1:] if files[0].startswith("@") else files[0]
    return PerLine(flag, every, tuple(_read_lines(flag, path)), path)


def _read_lines(flag: str, path: str) -> list[str]:
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise UserError(f"{flag}: no such file: {path}") from None
    except IsADirectoryError:
        raise UserError(f"{flag}: {path} is a directory, not a file") from None
    except UnicodeDecodeError as error:
        raise UserError(f"{flag}: {path} is not UTF-8 text (byte {error.start})") from None
    except OSError as error:
        raise UserError(f"{flag}: cannot read {path}: {error.strerror}") from None
    return [line.rstrip("\r") for line in text.split("\n")[: -1 if text.endswith("\n") else None]]


def prefixes_for(prefix: PerLine | None, first: int, count: int) -> list[str | None] | None:
    """The prefixes of input lines ``first .. first + count - 1``."""
    if prefix is None:
        return None
    if prefix.lines is None and len(prefix.every) > 1:
        raise UserError("--prefix takes one text (or one file)")
    return [(prefix.at(i) or ("",))[0] or None for i in range(first, first + count)]


def constraints_for(terms: PerLine | None, first: int, count: int) -> list[list[str]] | None:
    """The constraints of input lines ``first .. first + count - 1``: TAB-separated phrases."""
    if terms is None:
        return None
    found = []
    for index in range(first, first + count):
        from_file = terms.at(index)[:1] if terms.lines is not None else ()
        phrases = [phrase for line in from_file if line for phrase in line.split("\t")]
        found.append(phrases + [phrase for value in terms.every for phrase in value.split("\t")])
    return found
