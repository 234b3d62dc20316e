"""Frozen, validated configurations: the experiment (data, model, training and evaluation
sections, loaded from commented YAML presets with ``--set`` overrides) and the decoding options.

- :mod:`.experiment`: the sections as dataclasses, and the architecture they describe;
- :mod:`.loading`: files, presets and overrides;
- :mod:`.decoding`: :class:`DecodingOptions`, the one description of how to decode.
"""

from typing import TYPE_CHECKING

from transformer_mt.lazy import lazy_exports

# Lazy: the command line reads DecodingOptions without importing the experiment sections (and,
# through the architecture, torch).
_PUBLIC = {
    "DecodingOptions": "transformer_mt.config.decoding",
    "OptionError": "transformer_mt.config.decoding",
    **{
        name: "transformer_mt.config.experiment"
        for name in (
            "DataConfig",
            "ExperimentConfig",
            "ModelConfig",
            "TrainingConfig",
            "architecture_config",
            "transformer_config",
            "with_absolute_paths",
        )
    },
    **{
        name: "transformer_mt.config.loading"
        for name in ("config_from_dict", "load_config", "preset_names", "resolve_config_path")
    },
}
__all__ = sorted(_PUBLIC)
__getattr__, __dir__ = lazy_exports(__name__, _PUBLIC)

if TYPE_CHECKING:  # what the lazy names are, for type checkers
    from transformer_mt.config.decoding import (
        DecodingOptions as DecodingOptions,
    )
    from transformer_mt.config.decoding import (
        OptionError as OptionError,
    )
    from transformer_mt.config.experiment import (
        DataConfig as DataConfig,
    )
    from transformer_mt.config.experiment import (
        ExperimentConfig as ExperimentConfig,
    )
    from transformer_mt.config.experiment import (
        ModelConfig as ModelConfig,
    )
    from transformer_mt.config.experiment import (
        TrainingConfig as TrainingConfig,
    )
    from transformer_mt.config.experiment import (
        architecture_config as architecture_config,
    )
    from transformer_mt.config.experiment import (
        transformer_config as transformer_config,
    )
    from transformer_mt.config.experiment import (
        with_absolute_paths as with_absolute_paths,
    )
    from transformer_mt.config.loading import (
        config_from_dict as config_from_dict,
    )
    from transformer_mt.config.loading import (
        load_config as load_config,
    )
    from transformer_mt.config.loading import (
        preset_names as preset_names,
    )
    from transformer_mt.config.loading import (
        resolve_config_path as resolve_config_path,
    )
