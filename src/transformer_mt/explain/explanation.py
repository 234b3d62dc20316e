"""Everything ``transformer-mt explain`` computes for one run, in one object."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from transformer_mt.decoding.translator import Translator
from transformer_mt.errors import UserError
from transformer_mt.explain.attention import AttentionMaps, attention_maps
from transformer_mt.explain.dimensions import Dimensions, model_dimensions
from transformer_mt.explain.exposure import ExposureBias, exposure_bias
from transformer_mt.explain.inputs import encode_source, require_transformer
from transformer_mt.explain.masks_view import BatchMasks, batch_masks
from transformer_mt.explain.sections import SECTIONS
from transformer_mt.explain.shift import ShiftTable, shift_table
from transformer_mt.explain.trace import BeamTrace, DecodingTrace, beam_trace, greedy_trace


@dataclass(frozen=True)
class Explanation:
    """The numbers behind every figure (``None`` for sections that were not asked for)."""

    source: str
    target: str | None  # None: the model's own greedy translation was explained
    dimensions: Dimensions | None = None
    masks: BatchMasks | None = None
    shift: ShiftTable | None = None
    attention: AttentionMaps | None = None
    greedy: DecodingTrace | None = None
    beam: BeamTrace | None = None
    exposure: ExposureBias | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"source": self.source, "target": self.target}
        for name in ("dimensions", "masks", "shift", "attention", "greedy", "beam", "exposure"):
            value = getattr(self, name)
            data[name] = value.to_dict() if value is not None else None
        return data


def explain(
    translator: Translator,
    source: str,
    target: str | None = None,
    *,
    sections: Sequence[str] = SECTIONS,
    mask_pairs: Callable[[], list[tuple[str, str]]] = list,
    exposure_pairs: Callable[[], list[tuple[str, str]]] = list,
    top_k: int = 5,
    beam_size: int = 4,
    progress: bool = False,
) -> Explanation:
    """Compute the requested ``sections`` for ``source`` (and ``target``, if given).

    ``mask_pairs`` gives extra pairs batched with the example for the masks (so padding shows);
    ``exposure_pairs`` the held-out pairs exposure bias is measured on. Both are only called
    when their section is asked for.
    """
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise UserError(
            f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}"
        )
    require_transformer(translator)
    encode_source(translator, source)  # an empty source is a user error before any work
    wanted = set(sections)
    tokens = len(translator.tokenizer.source_pieces(source)) + 1
    example = (
        source,
        target if target is not None else translator.translate([source], beam_size=1)[0],
    )
    return Explanation(
        source=source,
        target=target,
        dimensions=model_dimensions(translator.model, tokens) if "dimensions" in wanted else None,
        masks=batch_masks(translator, [example, *mask_pairs()]) if "masks" in wanted else None,
        shift=shift_table(translator, source, target) if "shift" in wanted else None,
        attention=attention_maps(translator, source, target) if "attention" in wanted else None,
        greedy=greedy_trace(translator, source, top_k=top_k) if "trace" in wanted else None,
        beam=beam_trace(translator, source, beam_size=beam_size) if "trace" in wanted else None,
        exposure=(
            exposure_bias(translator, exposure_pairs(), progress=progress)
            if "exposure" in wanted
            else None
        ),
    )
