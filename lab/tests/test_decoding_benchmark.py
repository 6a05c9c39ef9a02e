"""The decoding benchmark behind ``bench_decode`` (lab.decoding_benchmark): each case is decoded
in its own process, the way photo search decodes uploads."""

from __future__ import annotations

import pytest

from lab.decoding_benchmark import TARGET_MB, decode_memory, default_cases


@pytest.mark.slow  # over 2 s (a subprocess, or a larger catalogue)
def test_decoding_benchmark_measures_each_case_in_its_own_process() -> None:
    figures = decode_memory(default_cases(scale=0.05), max_pixels=50_000_000, query_max_pixels=10_000_000)
    assert [f.name for f in figures] == [c.name for c in default_cases()]
    assert all(f.added_mb < TARGET_MB and f.outcome.startswith("decoded") for f in figures)
