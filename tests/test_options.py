"""ScanOptions and MatchOptions: one place for the settings and their defaults."""

from __future__ import annotations

import dataclasses
import os

import pytest

from imgtwin.config import ProcessingConfig
from imgtwin.matching.keeper import KeeperPolicy
from imgtwin.options import MatchOptions, ScanOptions, parse_size
from imgtwin.processing.discovery import DiscoveryOptions, FileFilter


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
    assert options.prefer == (os.path.expanduser("~/originals"),)  # one folder; several are kept in order
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
    settings = ScanSettings.of(["/photos"], "/tmp/i.db", options)
    assert not issubclass(ScanSettings, ScanOptions) and settings.options is options
    config = settings.options.processing_config()
    assert (config.adaptive_workers, config.batch_size, config.enable_progress_reporting) == (True, 7, False)
    assert config.discovery.filter.exclude == ("*/cache/*",)
    assert settings.roots == ("/photos",) and ScanSettings(roots=()).options == ScanOptions()
    # What a run shows and where its metrics go are the RunContext's, not the settings'.
    output = {"quiet", "progress", "metrics", "metrics_port", "metrics_host"}
    assert not output & {f.name for f in dataclasses.fields(ScanSettings)}


ENGINE_TYPES = (ProcessingConfig, DiscoveryOptions, FileFilter)
# A value other than the default for every ScanOptions field (workers="auto" needs the process executor).
NOT_DEFAULT: dict[str, object] = {
    "workers": 3, "executor": "thread", "file_timeout": 5.0, "worker_memory_mb": 100, "batch_size": 7,
    "commit_seconds": 0.0,
    "buffer": 9, "include_hidden": True, "follow_symlinks": True, "exclude": ("*/x/*",), "extensions": ("png",),
    "min_size": 10, "max_size": 20, "recursive": False, "one_file_system": True, "scheduler": "local:2",
    "previews": False,
}


def test_no_scan_setting_is_declared_in_two_of_the_engines_types() -> None:
    """An engine knob is ProcessingConfig's, a walk setting DiscoveryOptions', a filter FileFilter's: once each."""
    declared: dict[str, list[str]] = {}
    for kind in ENGINE_TYPES:
        for f in dataclasses.fields(kind):
            declared.setdefault(f.name, []).append(kind.__name__)
    assert {name: kinds for name, kinds in declared.items() if len(kinds) > 1} == {}


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(ScanOptions)])
def test_each_scan_option_reaches_exactly_one_of_the_engines_types(name: str) -> None:
    """Changed alone, a ScanOptions field changes the engine's settings, the walk's or the filter: one of them
    (``scheduler`` and ``previews`` are ScanOptions' own: they pick the engine and the loader, none of them)."""
    assert set(NOT_DEFAULT) == {f.name for f in dataclasses.fields(ScanOptions)}

    def parts(options: ScanOptions) -> dict[str, object]:
        config = options.processing_config()
        return {"ProcessingConfig": dataclasses.replace(config, discovery=DiscoveryOptions()),
                "DiscoveryOptions": dataclasses.replace(config.discovery, filter=FileFilter()),
                "FileFilter": config.discovery.filter}

    default, changed = parts(ScanOptions()), parts(ScanOptions(**{name: NOT_DEFAULT[name]}))  # type: ignore[arg-type]
    differs = {kind for kind in default if default[kind] != changed[kind]}
    assert differs == (set() if name in ("scheduler", "previews") else {owner(name)})


def owner(name: str) -> str:
    """The type that declares a ScanOptions field (under its own name, or the engine's for workers and buffer)."""
    engine_name = {"workers": "max_concurrent_tasks", "buffer": "channel_buffer_size"}.get(name, name)
    (kind,) = [k.__name__ for k in ENGINE_TYPES if engine_name in {f.name for f in dataclasses.fields(k)}]
    return kind


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
