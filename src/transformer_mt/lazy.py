"""Lazy package exports: a package names its public API without importing it (and torch).

In a package's ``__init__``, ``__getattr__, __dir__ = lazy_exports(__name__, {"Translator":
"transformer_mt.decoding.translator"})`` makes ``package.Translator`` import its module on first
use only.
"""

from __future__ import annotations

import sys

# collections.abc only for type checkers: importing it would double `import transformer_mt`.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def lazy_exports(
    package: str, names: dict[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """Module-level ``__getattr__`` and ``__dir__`` for ``package`` exporting ``names``
    (name -> the module that defines it)."""

    def __getattr__(name: str) -> object:  # noqa: N807 (the module protocol's name)
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        # __import__, not importlib: importing importlib (and its warnings) costs more than us.
        value = getattr(__import__(names[name], fromlist=[name]), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    def __dir__() -> list[str]:  # noqa: N807 (the module protocol's name)
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__
