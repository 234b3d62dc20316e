"""Loading experiment configs: a YAML file or shipped preset, plus ``section.key=value``
overrides; every value type-checked and every unknown key rejected with the valid ones listed."""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from transformer_mt.config.experiment import SECTIONS, ExperimentConfig, architecture_config
from transformer_mt.errors import ConfigError

_LARGEST_FLOAT = int(sys.float_info.max)
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")  # also 5e-4, a str in YAML 1.1


PRESETS_DIR = Path(__file__).resolve().parent.parent / "configs"


def preset_names() -> list[str]:
    """Names of the presets shipped with the package (``configs/*.yaml``)."""
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def resolve_config_path(name: str | Path) -> Path:
    """A YAML file path, or the name of a shipped preset such as ``quickstart``."""
    path = Path(name)
    if path.is_file():
        return path
    preset = PRESETS_DIR / f"{name}.yaml"
    if preset.is_file():
        return preset
    raise ConfigError(
        f"{path}: no such config file (shipped presets: {', '.join(preset_names()) or 'none'})"
    )


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Read a YAML config (path or preset name) and apply ``section.key=value`` overrides."""
    path = resolve_config_path(path)
    try:
        raw = _safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {_one_line(error)}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    for override in overrides:
        _apply_override(raw, override)
    return config_from_dict(raw, source=str(path))


def config_from_dict(raw: dict[str, Any], source: str = "config") -> ExperimentConfig:
    """Build and validate a config from plain data (as read from YAML)."""
    unknown = _sorted_keys(set(raw) - {"run_dir", *SECTIONS})
    if unknown:
        raise ConfigError(
            f"{source}: unknown section(s) {unknown}; valid: run_dir, {list(SECTIONS)}"
        )
    sections: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        values = raw.get(name)
        if values is None:  # absent, or a bare "data:" line
            values = {}
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: section '{name}' must be a mapping")
        _check_keys(name, cls, values, source)
        try:
            sections[name] = cls(**_coerce(cls, values))
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from None
        except (TypeError, ValueError) as error:
            raise ConfigError(f"{source}: {name}: {error}") from None
    run_dir = raw.get("run_dir", "runs/default")
    if not isinstance(run_dir, str) or not run_dir.strip():
        raise ConfigError(f"{source}: run_dir must be a directory path, got {run_dir!r}")
    config = ExperimentConfig(run_dir=run_dir, **sections)
    vocab = config.data.vocab_size
    try:  # validate the architecture now, not after the tokenizer has been trained
        architecture_config(config.model, vocab, vocab, joint=True)
    except ValueError as error:
        raise ConfigError(f"{source}: model: {error}") from None
    return config


def _apply_override(raw: dict[str, Any], override: str) -> None:
    key, sep, text = override.partition("=")
    if not sep:
        raise ConfigError(f"--set {override!r}: expected key=value, e.g. training.lr=5e-4")
    parts = key.strip().split(".")
    if parts == ["run_dir"]:
        raw["run_dir"] = text
        return
    if len(parts) != 2 or parts[0] not in SECTIONS:
        raise ConfigError(f"--set {key!r}: expected section.key with section in {list(SECTIONS)}")
    section, name = parts
    _check_keys(section, SECTIONS[section], {name: None}, "--set")
    try:
        value = _safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        value = text
    if raw.get(section) is None:
        raw[section] = {}
    if not isinstance(raw[section], dict):
        raise ConfigError(
            f"--set {section}.{name}: section '{section}' of the config is not a mapping"
        )
    raw[section][name] = value


def _safe_load(text: str) -> Any:
    """``yaml.safe_load`` that fails only with a ``yaml.YAMLError``: PyYAML lets a ValueError
    (an integer of over 4300 digits, a date such as 2024-02-30) and a RecursionError (lists
    nested thousands deep) escape."""
    try:
        return yaml.safe_load(text)
    except RecursionError:
        raise yaml.YAMLError("nested too deeply") from None
    except ValueError as error:
        raise yaml.YAMLError(str(error)) from None


def _check_keys(section: str, cls: type, values: dict[str, Any], source: str) -> None:
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = _sorted_keys(set(values) - set(valid))
    if unknown:
        names = ", ".join(f"{section}.{_key_name(key)}" for key in unknown)
        raise ConfigError(f"{source}: unknown key(s) {names}; valid keys: {', '.join(valid)}")


def _sorted_keys(keys: set[Any]) -> list[Any]:
    """Keys in a stable order: YAML keys may also be numbers, ``null`` or booleans, which do
    not compare with strings."""
    return sorted(keys, key=lambda key: (not isinstance(key, str), str(key)))


def _key_name(key: Any) -> str:
    """A key as written in a message: plain when printable text, else its repr (one line)."""
    return key if isinstance(key, str) and key.isprintable() else repr(key)


def _coerce(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """YAML gives lists where a tuple is declared, ints where floats are: normalise them."""
    out = dict(values)
    for f in dataclasses.fields(cls):
        if f.name not in out:
            continue
        value = out[f.name]
        kind = str(f.type)
        if _too_large(value):  # beyond every range, and float() or math.isfinite would overflow
            raise ConfigError(f"{cls.__name__}: {f.name} is too large a number")
        if kind.startswith("tuple") and isinstance(value, list):
            value = out[f.name] = tuple(value)
        elif kind.startswith("float") and isinstance(value, int) and not isinstance(value, bool):
            value = out[f.name] = float(value)
        elif kind.startswith("float") and isinstance(value, str) and _FLOAT.fullmatch(value):
            # YAML 1.1 reads 5e-4 (no dot) as a string; it is the number the user meant.
            value = out[f.name] = float(value)
        if not _matches(kind, value):
            raise ConfigError(f"{cls.__name__}: {f.name} must be {kind}, got {value!r}")
    return out


def _too_large(value: Any) -> bool:
    """Whether ``value`` (or an item of a list: not deeper, a YAML list can contain itself) is
    an integer too large for a float."""
    items = value if isinstance(value, list) else [value]
    return any(isinstance(item, int) and abs(item) > _LARGEST_FLOAT for item in items)


def _matches(kind: str, value: Any) -> bool:
    """Whether ``value`` has the declared type; only the outer type of a list/tuple is checked."""
    allowed = {
        "int": int,
        "float": (int, float),
        "bool": bool,
        "str": str,
        "list": list,
        "tuple": tuple,
    }
    names = [part.strip() for part in kind.split("|")]
    if value is None:
        return "None" in names
    for name in names:
        if name == "None":
            continue
        expected = allowed.get(name.split("[")[0])
        if expected is None:
            return True
        if isinstance(value, bool) and name != "bool":
            continue
        if isinstance(value, expected):
            return True
    return False


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())
