"""Checks of the config fields fine-tuning adds: ``data.tokenizer``, ``data.extra_valid``,
``training.init_from`` and ``training.freeze`` (see ``docs/fine-tuning.md``)."""

from __future__ import annotations

from typing import Any

from transformer_mt.errors import ConfigError

FREEZABLE = ("embeddings", "encoder")  # training.freeze: parameter groups kept fixed


def check_tokenizer_spec(spec: Any) -> None:
    """``data.tokenizer``: a path, or ``[source.model, target.model]``."""
    if spec is None or (isinstance(spec, str) and spec.strip()):
        return
    if isinstance(spec, list) and len(spec) == 2 and all(isinstance(p, str) for p in spec):
        return
    raise ConfigError(
        "data.tokenizer must be a run directory, a tokenizer folder, a SentencePiece .model "
        f"file or [source.model, target.model], got {spec!r}"
    )


def check_extra_valid(extra: Any) -> None:
    """``data.extra_valid``: ``{name: file spec or built-in dataset name}``."""
    if extra is None:
        return
    if not isinstance(extra, dict) or not extra:
        raise ConfigError(f"data.extra_valid must be a mapping of names to data, got {extra!r}")
    for name, spec in extra.items():
        if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"data.extra_valid: {name!r} is not a name (letters, digits, -, _)")
        if not (isinstance(spec, str) or (isinstance(spec, list) and spec)):
            raise ConfigError(
                f"data.extra_valid.{name} must be a TSV path, [source_file, target_file] or a "
                f"built-in dataset name, got {spec!r}"
            )


def check_freeze(freeze: Any) -> None:
    """``training.freeze``: a list of :data:`FREEZABLE` groups."""
    if not isinstance(freeze, list) or any(group not in FREEZABLE for group in freeze):
        raise ConfigError(f"training.freeze must be a list of {list(FREEZABLE)}, got {freeze!r}")
