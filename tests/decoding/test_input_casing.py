"""The Translator cases its input as the training sources do, unless ``keep_case``; on the
session's trained toy run (tests/cli/toy_data.py), given a recorded casing convention."""

from __future__ import annotations

import dataclasses

import pytest

from cli.toy_data import trained_toy_run
from transformer_mt.config import DecodingOptions
from transformer_mt.data.casing import SourceCasing
from transformer_mt.decoding.translator import Translator

# The toy sources are all lower case, so the casing here is given, not learned: as if the
# training sources had started with capitals and always written "Tea".
CASING = SourceCasing(capitalized=100, lowercase=0, words={"tea": "Tea"})


@pytest.fixture(scope="module")
def translator(tmp_path_factory: pytest.TempPathFactory) -> Translator:
    loaded = Translator.load(trained_toy_run(tmp_path_factory).run_dir)
    loaded.tokenizer.source_casing = CASING
    return loaded


def test_the_model_sees_the_input_cased_as_in_training(translator: Translator) -> None:
    typed, cased = "i like tea", "I like Tea"
    assert translator.encode_sources([typed]) == translator.encode_sources([cased], True)
    assert translator.encode_sources([typed], True) != translator.encode_sources([typed])
    options = DecodingOptions(beam_size=2)
    as_cased = translator.translate_detailed([cased], options.replace(keep_case=True))
    assert translator.translate_detailed([typed], options) == [
        dataclasses.replace(result, source=typed) for result in as_cased
    ]


def test_keep_case_translates_the_input_as_typed(translator: Translator) -> None:
    typed = "i like tea"
    kept = translator.translate([typed], DecodingOptions(keep_case=True))
    (raw_ids,), _ = translator.encode_sources([typed], keep_case=True)
    casing, translator.tokenizer.source_casing = translator.tokenizer.source_casing, None
    try:
        assert translator.translate([typed]) == kept  # as a run without a recorded casing
        assert translator.encode_sources([typed]) == ([raw_ids], [False])
    finally:
        translator.tokenizer.source_casing = casing


def test_blank_input_stays_empty(translator: Translator) -> None:
    assert translator.encode_sources(["", "  "]) == ([[], []], [False, False])


def test_whether_a_text_fits_is_judged_on_the_cased_text(translator: Translator) -> None:
    # "Tea" takes more pieces than "tea" in the toy vocabulary, so 20 of them no longer fit.
    text = " ".join(["tea"] * 20)
    assert translator.fits(text, keep_case=True)
    assert not translator.fits(text)
    assert translator.encode_sources([text])[1] == [True]
