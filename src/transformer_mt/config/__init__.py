"""Frozen, validated configurations: the experiment (data, model, training and evaluation
sections, loaded from commented YAML presets with ``--set`` overrides) and the decoding options.

- :mod:`.experiment`: the sections as dataclasses, and the architecture they describe;
- :mod:`.loading`: files, presets and overrides;
- :mod:`.decoding`: :class:`DecodingOptions`, the one description of how to decode.
"""

from transformer_mt.config.decoding import DecodingOptions, OptionError
from transformer_mt.config.experiment import (
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    TrainingConfig,
    architecture_config,
    transformer_config,
    with_absolute_paths,
)
from transformer_mt.config.loading import (
    config_from_dict,
    load_config,
    preset_names,
    resolve_config_path,
)

__all__ = [
    "DataConfig",
    "DecodingOptions",
    "ExperimentConfig",
    "ModelConfig",
    "OptionError",
    "TrainingConfig",
    "architecture_config",
    "config_from_dict",
    "load_config",
    "preset_names",
    "resolve_config_path",
    "transformer_config",
    "with_absolute_paths",
]
