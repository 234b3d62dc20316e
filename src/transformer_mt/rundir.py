"""The layout of a run directory: everything needed to reproduce, resume and use a model."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from transformer_mt.errors import UserError
from transformer_mt.model.factory import ModelConfig, config_from_dict, config_to_dict


@dataclass(frozen=True)
class RunDir:
    """Paths inside a run directory.

    - ``config.yaml``: the resolved experiment config (all defaults filled in)
    - ``model.json``: the model architecture and its ``kind`` (transformer or lstm)
    - ``tokenizer/``: the SentencePiece model(s)
    - ``model.safetensors``: the best weights by validation BLEU (used for translation)
    - ``last.safetensors``: the weights at the latest validation
    - ``metrics.jsonl``: one JSON object per logged event
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
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    def write_model_config(self, config: ModelConfig) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.model_config_file.write_text(json.dumps(config_to_dict(config), indent=2) + "\n")

    def read_model_config(self) -> ModelConfig:
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
