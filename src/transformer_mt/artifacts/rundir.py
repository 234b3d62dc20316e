"""The layout of a run directory: everything needed to reproduce, resume and use a model."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from transformer_mt.config.experiment import ExperimentConfig
from transformer_mt.config.loading import load_config
from transformer_mt.errors import UserError
from transformer_mt.model.factory import ArchitectureConfig, config_from_dict, config_to_dict


@dataclass(frozen=True)
class RunDir:
    """Paths inside a run directory.

    - ``config.yaml``: the resolved experiment config (all defaults filled in)
    - ``model.json``: the model architecture and its ``kind`` (transformer or lstm)
    - ``tokenizer/``: the SentencePiece model(s)
    - ``model.safetensors``: the best weights by validation BLEU (used for translation)
    - ``last.safetensors``: the weights at the latest validation
    - ``checkpoints/``: the last few resumable checkpoints
    - ``metrics.jsonl`` / ``metrics.csv``: one record per logged event; ``tensorboard/``
    - ``summary.json``: steps, time and best score of the finished run
    - ``eval-<data>.json``: each ``evaluate`` result; ``explain/``: ``explain``'s figures

    Every command reaches these files through this class, never by spelling their names.
    """

    path: Path

    @property
    def config_file(self) -> Path:
        return self.path / "config.yaml"

    @property
    def model_config_file(self) -> Path:
        return self.path / "model.json"

    @property
    def tokenizer_dir(self) -> Path:
        return self.path / "tokenizer"

    @property
    def weights(self) -> Path:
        return self.path / "model.safetensors"

    @property
    def last_weights(self) -> Path:
        return self.path / "last.safetensors"

    @property
    def averaged_weights(self) -> Path:
        return self.path / "averaged.safetensors"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def metrics_csv(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def tensorboard_dir(self) -> Path:
        return self.path / "tensorboard"

    @property
    def summary(self) -> Path:
        return self.path / "summary.json"

    @property
    def curves(self) -> Path:
        """``transformer-mt plot``'s figure of the training curves."""
        return self.path / "training.png"

    @property
    def explain_dir(self) -> Path:
        return self.path / "explain"

    def evaluation_record(self, data_name: str) -> Path:
        """Where ``evaluate`` records its scores on the data called ``data_name``."""
        return self.path / f"eval-{data_name}.json"

    def write_config(self, config: ExperimentConfig) -> None:
        """The resolved config (every default filled in) as ``config.yaml``."""
        self.config_file.write_text(
            "# Resolved configuration of this run (all defaults filled in).\n"
            + yaml.safe_dump(config.to_dict(), sort_keys=False, allow_unicode=True),
            encoding="utf-8",
        )

    def read_config(self, overrides: tuple[str, ...] | list[str] = ()) -> ExperimentConfig:
        """The config the run was trained with (``config.yaml``), with ``overrides``."""
        if not self.config_file.is_file():
            raise UserError(f"{self.path}: not a run directory (no config.yaml)")
        return load_config(self.config_file, overrides)

    def write_model_config(self, config: ArchitectureConfig) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.model_config_file.write_text(json.dumps(config_to_dict(config), indent=2) + "\n")

    def read_model_config(self) -> ArchitectureConfig:
        if not self.model_config_file.is_file():
            raise UserError(
                f"{self.path}: not a run directory (no model.json); train one with "
                "'transformer-mt train CONFIG'"
            )
        try:
            return config_from_dict(json.loads(self.model_config_file.read_text()))
        except (ValueError, TypeError) as error:
            raise UserError(f"{self.model_config_file}: {error}") from None

    def require_weights(self) -> Path:
        """The best weights, or the latest ones when training stopped before any BLEU check."""
        for path in (self.weights, self.last_weights):
            if path.is_file():
                return path
        raise UserError(
            f"{self.path}: no model.safetensors or last.safetensors "
            "(training stopped before its first validation?)"
        )
