"""The CPU summary printed by the benchmarks, on hand-written /proc/cpuinfo texts."""

from __future__ import annotations

from transformer_mt.runtime import cpu_summary

CPUINFO = """processor\t: 0
model name\t: AMD EPYC 9R14 96-Core Processor
flags\t\t: fpu avx2 avx512f avx512_vnni avx512_bf16

processor\t: 1
model name\t: AMD EPYC 9R14 96-Core Processor
flags\t\t: fpu avx2 avx512f avx512_vnni avx512_bf16
"""


def test_features_present_and_absent_are_both_named() -> None:
    assert cpu_summary(CPUINFO) == (
        "AMD EPYC 9R14 96-Core Processor (avx512_vnni, avx512_bf16; no amx_bf16, amx_int8)"
    )


def test_a_cpu_with_every_feature_lists_no_absent_ones() -> None:
    text = "model name : Xeon\nflags : avx512_vnni avx512_bf16 amx_bf16 amx_int8 amx_tile\n"
    assert cpu_summary(text) == "Xeon (avx512_vnni, avx512_bf16, amx_bf16, amx_int8)"


def test_without_flags_only_the_model_is_given() -> None:
    assert cpu_summary("model name : Some CPU\n") == "Some CPU"


def test_this_machine_has_a_summary() -> None:
    assert cpu_summary()  # whatever the machine: never empty, never raises
