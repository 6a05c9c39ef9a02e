"""The decoding benchmark behind ``bench_decode`` (lab.decoding_benchmark): each case is decoded
in its own process, the way photo search decodes uploads."""

from __future__ import annotations

import pytest

from lab.decoding_benchmark import PATHS, TARGET_MB, decode_memory, default_cases


@pytest.mark.slow  # over 2 s (a subprocess, or a larger catalogue)
def test_decoding_benchmark_measures_each_case_in_its_own_process() -> None:
    figures = decode_memory(default_cases(scale=0.05), max_pixels=50_000_000, query_max_pixels=10_000_000)
    assert [f.name for f in figures] == [c.name for c in default_cases()]
    assert all(f.added_mb < TARGET_MB and f.outcome.startswith("decoded") for f in figures)


@pytest.mark.slow  # six fresh processes
def test_every_decoding_path_is_measured_and_refuses_full_size_formats_past_its_limit() -> None:
    cases = [c for c in default_cases(scale=0.05) if "WebP" in c.name or "JPEG" in c.name]
    for path in PATHS:
        figures = decode_memory(cases, max_pixels=50_000_000, query_max_pixels=1_000, path=path)
        outcomes = {f.name: f.outcome for f in figures}
        assert outcomes["lossless WebP 16383x3051"].startswith("refused: The image is too large"), (path, outcomes)
        assert outcomes["12-MP phone JPEG 4000x3000"].startswith("decoded"), (path, outcomes)
