"""How to decode: one frozen, validated set of options for every way of translating.

:class:`DecodingOptions` is read by the :class:`~transformer_mt.decoding.translator.Translator`,
built from the command line's flags (``translate``, ``evaluate``), from the server's JSON
request, from a config's ``evaluation:`` section, and by training's validation translator.
It is validated here, once; each field's ``help`` is the text the CLI and the server's schema
show for it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from transformer_mt.ranges import (
    AT_LEAST_ONE,
    NON_NEGATIVE,
    POSITIVE,
    SEED,
    Range,
    first_range_problem,
)


class OptionError(ValueError):
    """A decoding option out of range (``field`` names it, e.g. ``beam_size``, for the CLI's
    flag), or options that contradict each other (``combination``)."""

    def __init__(self, name: str, problem: str, *, combination: bool = False) -> None:
        super().__init__(f"{name} {problem}")
        self.field = name
        self.problem = problem
        self.combination = combination


def _option(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class DecodingOptions:
    """Search strategy, scoring, output length limits and batching.

    ``beam_size=1`` is greedy search (unless ``n_best > 1``); ``sample=True`` draws each token
    from the model's distribution instead (filtered by ``temperature``, ``top_k``, ``top_p``;
    reproducible with ``seed``). Every strategy applies the repetition guards
    (``max_token_repeat``, ``no_repeat_ngram_size``, ``repetition_penalty``,
    ``no_repeat_chunk_size``, and no unseen doubles unless ``allow_unseen_doubles``; see
    :mod:`transformer_mt.decoding.guards`). Inputs are cased as the training sources case them
    ("hello world" -> "Hello world", :mod:`transformer_mt.data.casing`) unless ``keep_case``.
    Outputs stop at ``</s>`` or after
    ``max_length_ratio * source_tokens + max_length_offset`` tokens.
    """

    beam_size: int = _option(4, "Beams per sentence; 1 = greedy search.")
    length_penalty: float = _option(1.0, "Beam score = log-prob / length**penalty.")
    n_best: int = _option(1, "Candidates per sentence (at most beam_size).")
    sample: bool = _option(False, "Sample tokens instead of searching.")
    temperature: float = _option(1.0, "With sample: divide the logits by this.")
    top_k: int = _option(0, "With sample: keep the k most probable tokens; 0 = off.")
    top_p: float = _option(1.0, "With sample: keep the smallest set of this mass; 1 = off.")
    seed: int = _option(0, "Random seed for sample (same seed, same output).")
    max_token_repeat: int = _option(2, "At most this many of a token in a row; 0 = off.")
    no_repeat_ngram_size: int = _option(0, "No n-gram of this size twice in an output; 0 = off.")
    repetition_penalty: float = _option(1.0, "Seen tokens' log-probs x this (>1 avoids); 1 = off.")
    no_repeat_chunk_size: int = _option(4, "No chunk of 1..N tokens twice in a row; 0 = off.")
    allow_unseen_doubles: bool = _option(
        False, "Let outputs double a character the training data never doubles (喝水水)."
    )
    keep_case: bool = _option(
        False, "Translate the input's letter case as typed (default: cased as the training data)."
    )
    max_length_ratio: float = _option(2.0, "Output limit = ratio x source tokens + offset.")
    max_length_offset: int = _option(10, "Output limit = ratio x source tokens + offset.")
    batch_size: int = _option(64, "Sentences decoded together.")
    max_tokens: int | None = _option(None, "Also cap each batch at this many source tokens.")

    def __post_init__(self) -> None:
        _check_types(self)
        found = first_range_problem(self, RANGES)
        if found is not None:
            raise OptionError(*found)
        if self.sample and self.n_best != 1:
            raise OptionError(
                "n_best", "must be 1 with sample (n-best lists need beam search)", combination=True
            )
        if not self.sample and self.n_best > self.beam_size:
            raise OptionError(
                "n_best",
                f"must be between 1 and beam_size ({self.beam_size}), got {self.n_best}",
                combination=True,
            )

    @property
    def strategy(self) -> str:
        """``sample``, ``greedy`` or ``beam``: which search these options ask for."""
        if self.sample:
            return "sample"
        return "greedy" if self.beam_size == 1 and self.n_best == 1 else "beam"

    def describe(self) -> str:
        """A few words for logs: ``beam 4``, ``greedy``, ``sampling``."""
        return {"sample": "sampling", "greedy": "greedy"}.get(
            self.strategy, f"beam {self.beam_size}"
        )

    def replace(self, **overrides: Any) -> DecodingOptions:
        """A copy with ``overrides`` (validated again); an unknown name is a ``TypeError``
        that lists the valid ones."""
        unknown = sorted(set(overrides) - set(FIELDS))
        if unknown:
            raise TypeError(f"unknown decoding option(s) {unknown}; valid: {', '.join(FIELDS)}")
        return dataclasses.replace(self, **overrides) if overrides else self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def help(cls, name: str) -> str:
        """The one-line description of option ``name``."""
        return str(FIELDS[name].metadata["help"])

    @classmethod
    def value_type(cls, name: str) -> type:
        """The type of option ``name``'s values: ``int``, ``float`` or ``bool`` (``max_tokens``
        may also be None)."""
        return _VALUE_TYPES[str(FIELDS[name].type).split("|")[0].strip()]


# Overrides that turn every repetition guard off: the model's own output, e.g. to compare with
# engines that have no such guards (HF generate, CTranslate2).
NO_GUARDS: dict[str, Any] = {
    "max_token_repeat": 0,
    "no_repeat_ngram_size": 0,
    "repetition_penalty": 1.0,
    "no_repeat_chunk_size": 0,
    "allow_unseen_doubles": True,
}

FIELDS: dict[str, dataclasses.Field[Any]] = {f.name: f for f in dataclasses.fields(DecodingOptions)}

_VALUE_TYPES: dict[str, type] = {"int": int, "float": float, "bool": bool}


def _check_types(options: DecodingOptions) -> None:
    """Reject a wrong type (``beam_size="4"``, ``sample=1``) instead of failing later or
    coercing it silently; ints are accepted where floats are declared."""
    for name, spec in FIELDS.items():
        value = getattr(options, name)
        if value is None and "None" in str(spec.type):
            continue
        kind = DecodingOptions.value_type(name)
        accepted = (int, float) if kind is float else (kind,)
        wrong_bool = isinstance(value, bool) and kind is not bool
        if wrong_bool or not isinstance(value, accepted):
            raise OptionError(name, f"must be {kind.__name__}, got {value!r}")


RANGES: dict[str, Range] = {
    "beam_size": AT_LEAST_ONE,
    "length_penalty": NON_NEGATIVE,
    "n_best": AT_LEAST_ONE,
    "temperature": POSITIVE,
    "top_k": NON_NEGATIVE,
    "top_p": Range(0, 1, low_open=True),
    "seed": SEED,
    "max_token_repeat": NON_NEGATIVE,
    "no_repeat_ngram_size": NON_NEGATIVE,
    "repetition_penalty": POSITIVE,
    "no_repeat_chunk_size": NON_NEGATIVE,
    "max_length_ratio": NON_NEGATIVE,
    "max_length_offset": NON_NEGATIVE,
    "batch_size": AT_LEAST_ONE,
    "max_tokens": Range(1, optional=True),
}
