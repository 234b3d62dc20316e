"""Frozen, validated configurations: the experiment (data, model, training and evaluation
sections, loaded from commented YAML presets with ``--set`` overrides) and the decoding options.

- :mod:`.experiment`: the sections as dataclasses, and the architecture they describe;
- :mod:`.loading`: files, presets and overrides;
- :mod:`.decoding`: :class:`DecodingOptions`, the one description of how to decode.
"""

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
