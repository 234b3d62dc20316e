"""Continuing a run: which config it continues with, what must match, which checkpoint to load.

A resumed run keeps its model and data: the architecture, the vocabulary and the data options
must be those the run was trained with (a mismatch is a one-line error naming the fields).
Training options may change, e.g. a larger ``training.max_steps`` to train longer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformer_mt.artifacts.rundir import RunDir
from transformer_mt.config import ExperimentConfig, load_config, with_absolute_paths
from transformer_mt.errors import UserError
from transformer_mt.model.factory import ArchitectureConfig, config_to_dict
from transformer_mt.training.snapshot import Snapshot, list_checkpoints, load_snapshot

FIXED_SECTIONS = ("data", "model")
# Settings that only choose the starting weights: a resumed run loads its weights, so these may
# differ (a run saved before they existed reads as the defaults).
STARTING_POINT = ("init", "init_std")


def resume_config(
    run_dir: str | Path, config: str | Path | None, overrides: tuple[str, ...] | list[str] = ()
) -> ExperimentConfig:
    """The config to continue ``run_dir`` with: its saved one, or ``config`` if it matches."""
    run = RunDir(Path(run_dir))
    if not run.config_file.is_file():
        raise UserError(f"{run.path}: not a run directory (no config.yaml); nothing to resume")
    saved = run.read_config(overrides)
    if config is None:
        chosen = saved
    else:
        chosen = with_absolute_paths(load_config(config, overrides))
        differences = config_differences(saved, chosen)
        if differences:
            raise UserError(
                f"{run.path} was trained with a different {', '.join(differences[:4])}; "
                "--resume continues the same model and data (only training.* may change)"
            )
    return dataclasses.replace(chosen, run_dir=str(run.path))


def config_differences(saved: ExperimentConfig, other: ExperimentConfig) -> list[str]:
    """``section.key (saved -> other)`` for every data/model field that differs."""
    found = []
    for section in FIXED_SECTIONS:
        before: dict[str, Any] = dataclasses.asdict(getattr(saved, section))
        after: dict[str, Any] = dataclasses.asdict(getattr(other, section))
        for key, value in before.items():
            if after[key] != value and key not in STARTING_POINT:
                found.append(f"{section}.{key} ({value!r} -> {after[key]!r})")
    return found


def check_resumable(run: RunDir) -> None:
    if not run.path.is_dir():
        raise UserError(f"{run.path}: no such run directory to resume")
    for required in (run.model_config_file, run.tokenizer_dir):
        if not required.exists():
            raise UserError(f"{run.path}: not a complete run directory (no {required.name})")
    if not list_checkpoints(run.checkpoints_dir):
        raise UserError(
            f"{run.path}: no checkpoint to resume from (checkpoints/ is empty: the run stopped "
            "before its first checkpoint); start it again with --overwrite"
        )


def check_model_matches(run: RunDir, expected: ArchitectureConfig) -> None:
    """The run's model.json must describe the model the config and tokenizer would build."""
    saved, wanted = config_to_dict(run.read_model_config()), config_to_dict(expected)
    differences = [
        f"{key} ({saved.get(key)!r} -> {wanted.get(key)!r})"
        for key in dict.fromkeys([*saved, *wanted])
        if saved.get(key) != wanted.get(key) and key not in STARTING_POINT
    ]
    if differences:
        raise UserError(
            f"{run.model_config_file}: the run's model differs from the config: "
            f"{', '.join(differences[:4])}"
        )


def latest_snapshot(run: RunDir, report: Callable[[str], None]) -> tuple[Path, Snapshot]:
    """The newest checkpoint that loads (an unreadable one is reported and skipped)."""
    problems = []
    for path in reversed(list_checkpoints(run.checkpoints_dir)):
        try:
            return path, load_snapshot(path)
        except UserError as error:
            report(f"warning: skipping {error}")
            problems.append(path.name)
    raise UserError(f"{run.path}: no loadable checkpoint (tried {', '.join(problems)})")
