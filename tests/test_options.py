"""ScanOptions and MatchOptions: one place for the settings and their defaults."""

from __future__ import annotations

import os

import pytest

from imgtwin.config import ProcessingConfig
from imgtwin.matching.keeper import KeeperPolicy
from imgtwin.options import MatchOptions, ScanOptions, parse_size


def test_scan_defaults_are_the_engines() -> None:
    config, engine = ScanOptions().processing_config(), ProcessingConfig()
    assert (config.file_timeout, config.worker_memory_mb, config.batch_size) == (
        engine.file_timeout, engine.worker_memory_mb, engine.batch_size)


def test_auto_workers_adapt_and_need_processes() -> None:
    assert ScanOptions(workers="auto").processing_config().adaptive_workers
    assert not ScanOptions(workers=3).processing_config().adaptive_workers
    with pytest.raises(ValueError, match="process executor"):
        ScanOptions(workers="auto", executor="thread")
    with pytest.raises(ValueError, match="workers"):
        ScanOptions(workers=-1)


def test_a_single_pattern_is_one_pattern_not_its_letters() -> None:
    assert ScanOptions(exclude="*/tmp/*").exclude == ("*/tmp/*",)  # type: ignore[arg-type]


def test_similarity_words_map_to_bits() -> None:
    assert MatchOptions().bits == MatchOptions(similarity="medium").bits
    assert MatchOptions(similarity="high").bits < MatchOptions().bits < MatchOptions(similarity="low").bits
    exact = MatchOptions(similarity="exact", deep=True)
    assert exact.bits == 0 and exact.rotations and not exact.searches_rotations and not exact.searches_deep
    assert MatchOptions(threshold=9).bits == 9
    with pytest.raises(ValueError, match="not both"):
        MatchOptions(similarity="low", threshold=3)
    with pytest.raises(ValueError, match="similarity"):
        MatchOptions(similarity="fuzzy")  # type: ignore[arg-type]


def test_match_options_expand_home_and_check_the_keeper() -> None:
    options = MatchOptions(keep="prefer-folder", prefer="~/originals", reference="~/ref")  # type: ignore[arg-type]
    assert options.keep is KeeperPolicy.PREFER_FOLDER
    assert options.prefer == os.path.expanduser("~/originals")
    assert options.reference == (os.path.expanduser("~/ref"),)
    with pytest.raises(ValueError, match="needs prefer"):
        MatchOptions(keep="prefer-folder")


@pytest.mark.parametrize(("text", "size"), [("500", 500), ("200k", 200_000), ("1.5MB", 1_500_000),
                                            ("2GiB", 2 * 1024**3), (" 3 kib ", 3072)])
def test_sizes_in_words(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "abc", "5x", "-3", "1ib"])
def test_bad_sizes_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)


def test_a_scans_settings_hold_its_options_rather_than_extend_them() -> None:
    """The options are defined once (ScanOptions); a run adds its own fields beside them, never copies of them."""
    from imgtwin.runs.scan import ScanSettings

    options = ScanOptions(workers="auto", exclude=("*/cache/*",), batch_size=7)
    settings = ScanSettings.of(["/photos"], "/tmp/i.db", options, quiet=True)
    assert not issubclass(ScanSettings, ScanOptions) and settings.options is options
    config = settings.processing_config()
    assert (config.adaptive_workers, config.batch_size, config.enable_progress_reporting) == (True, 7, False)
    assert settings.roots == ("/photos",) and ScanSettings(roots=()).options == ScanOptions()


def test_the_threshold_limit_and_the_words_bits_are_written_once() -> None:
    """MatchOptions, a plan document and the CLI's --threshold range and help all take them from one place."""
    import click

    from imgtwin.cli import main
    from imgtwin.matching.confirm import MAX_THRESHOLD, plan_params
    from imgtwin.options import SIMILARITY_BITS

    with pytest.raises(ValueError, match=f"between 0 and {MAX_THRESHOLD} bits"):
        MatchOptions(threshold=MAX_THRESHOLD + 1)
    assert plan_params(MAX_THRESHOLD + 5).threshold == MAX_THRESHOLD
    params = {p.name: p for p in main.commands["find"].params}
    threshold = params["threshold"].type
    assert isinstance(threshold, click.IntRange) and threshold.max == MAX_THRESHOLD
    similarity_help = params["similarity"].help or ""
    assert all(f"{word} = " in similarity_help and f"--threshold {bits})" in similarity_help
               for word, bits in SIMILARITY_BITS.items())
