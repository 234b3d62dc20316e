"""Resumable checkpoints: weights, optimizer, LR schedule, training state and RNG states.

One safetensors file per checkpoint, ``checkpoints/step-00001500.safetensors``: tensors for the
weights (``model.*``), the optimizer's moments (``optimizer.<param>.<key>``), the weight average
(``average.<i>``) and the torch random generators (``rng.torch.<rank>``, ``rng.cuda``); everything
else (step, epoch, data position, the batch-order RNG, optimizer hyper-parameters, the LR
schedule, the loss scaler) is JSON in the file's metadata. Nothing is pickled. Files are written
atomically, so a run killed at any moment leaves the previous checkpoint intact and loadable.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, safe_open, save_file

from transformer_mt.artifacts.weights import atomic_write, readable
from transformer_mt.errors import UserError

CHECKPOINT = re.compile(r"step-(\d{8})\.safetensors")
FORMAT = "transformer-mt-checkpoint-1"


@dataclass
class Snapshot:
    """Everything a checkpoint holds, as loaded (tensors on CPU)."""

    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]  # a torch optimizer state_dict
    scheduler: dict[str, Any]
    state: dict[str, Any]  # TrainState.to_dict()
    rng: dict[str, torch.Tensor] = field(default_factory=dict)
    average: list[torch.Tensor] | None = None
    average_updates: int = 0
    scaler: dict[str, Any] | None = None

    @property
    def step(self) -> int:
        return int(self.state["step"])


def checkpoint_path(directory: Path, step: int) -> Path:
    return directory / f"step-{step:08d}.safetensors"


def list_checkpoints(directory: Path) -> list[Path]:
    """Complete checkpoints in ``directory``, oldest first (temporary files are ignored)."""
    if not directory.is_dir():
        return []
    steps = {p: int(m.group(1)) for p in directory.iterdir() if (m := CHECKPOINT.fullmatch(p.name))}
    return sorted(steps, key=steps.__getitem__)


def prune_checkpoints(directory: Path, keep_last: int) -> None:
    for old in list_checkpoints(directory)[:-keep_last]:
        old.unlink(missing_ok=True)


def save_snapshot(path: Path, snapshot: Snapshot) -> None:
    """Write ``snapshot`` to ``path`` atomically."""
    tensors = {f"model.{name}": t for name, t in snapshot.model.items()}
    optimizer_state, optimizer_meta = _split_optimizer(snapshot.optimizer)
    tensors.update(optimizer_state)
    tensors.update({f"rng.{name}": t for name, t in snapshot.rng.items()})
    if snapshot.average is not None:
        tensors.update({f"average.{i}": t for i, t in enumerate(snapshot.average)})
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    metadata = {
        "format": FORMAT,
        "state": json.dumps(snapshot.state),
        "optimizer": json.dumps(optimizer_meta),
        "scheduler": json.dumps(snapshot.scheduler),
        "scaler": json.dumps(snapshot.scaler),
        "average_updates": str(snapshot.average_updates),
    }
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def load_snapshot(path: Path) -> Snapshot:
    """Read a checkpoint written by :func:`save_snapshot`; a bad file is a clear error."""
    with readable(path, "checkpoint"):
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
    if metadata.get("format") != FORMAT:
        raise UserError(f"{path}: not a transformer-mt training checkpoint")
    groups: dict[str, dict[str, torch.Tensor]] = {"model": {}, "optimizer": {}, "rng": {}}
    average: dict[int, torch.Tensor] = {}
    for key, tensor in tensors.items():
        prefix, _, name = key.partition(".")
        if prefix == "average":
            average[int(name)] = tensor
        else:
            groups[prefix][name] = tensor
    return Snapshot(
        model=groups["model"],
        optimizer=_join_optimizer(groups["optimizer"], json.loads(metadata["optimizer"])),
        scheduler=json.loads(metadata["scheduler"]),
        state=json.loads(metadata["state"]),
        rng=groups["rng"],
        average=[average[i] for i in sorted(average)] if average else None,
        average_updates=int(metadata.get("average_updates", "0")),
        scaler=json.loads(metadata["scaler"]),
    )


def _split_optimizer(state_dict: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Optimizer tensors (moments, step counts) apart from its JSON-safe hyper-parameters."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in state_dict["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def _join_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, tensor in tensors.items():
        index, _, name = key.partition(".")
        state.setdefault(int(index), {})[name] = tensor
    for index, values in meta["scalars"].items():
        state.setdefault(int(index), {}).update(values)
    return {"state": state, "param_groups": meta["param_groups"]}
