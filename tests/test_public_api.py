"""The top-level API: the names it promises, imported lazily (no torch until one is used)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import transformer_mt


@pytest.mark.parametrize("name", sorted(set(transformer_mt.__all__) - {"__version__"}))
def test_every_public_name_resolves_and_is_documented(name: str) -> None:
    value = getattr(transformer_mt, name)
    assert value.__doc__, f"transformer_mt.{name} needs a docstring"
    assert name in dir(transformer_mt)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Translater'"):
        transformer_mt.Translater  # noqa: B018 (the attribute access is the test)


@pytest.mark.parametrize("module", ["transformer_mt", "transformer_mt.cli.main"])
def test_importing_the_package_or_the_cli_does_not_import_torch(module: str) -> None:
    """``import transformer_mt`` and ``transformer-mt --help`` stay fast (torch takes ~1 s)."""
    code = f"import sys, {module}; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_importing_the_package_loads_nothing_but_itself() -> None:
    """``import transformer_mt`` costs about 2 ms: it must not pull in typing, collections or a
    library (each is milliseconds more)."""
    code = (
        "import sys; before = set(sys.modules); import transformer_mt; "
        "loaded = sorted(set(sys.modules) - before); import json; print(json.dumps(loaded))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    others = [name for name in json.loads(result.stdout) if not name.startswith("transformer_mt")]
    assert others in ([], ["__future__"])
