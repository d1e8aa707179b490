"""The keeper in words: which rule chose it, and what a copy to be removed carries that it lacks.

One table of tier -> words (``KEEPER_REASONS``), read by every output (text,
JSON, CSV, the report, the review app, ``dedupe``), so that they all say the same.
"""

from __future__ import annotations

from collections.abc import Iterable

from imgtwin.hashing.signals import KeeperSignals

#: ``matching.keeper.Ranking.rule``'s codes (its tiers, and ``upscaled``, ``identical``) in words.
KEEPER_REASONS: dict[str, str] = {
    "reference": "reference folder",
    "derived": "the others are crops, straightened copies or screenshots of it",
    "upscaled": "the others are upscaled",
    "content": "the others are cropped, framed, squashed or edited copies of it",
    "preferred-folder": "preferred folder",
    "preferred-format": "preferred format",
    "largest": "largest file (--keep largest)",
    "smallest": "smallest file (--keep smallest)",
    "oldest": "oldest file (--keep oldest)",
    "newest": "newest file (--keep newest)",
    "colour": "full colour",
    "resolution": "higher resolution",
    "quality": "higher JPEG quality",
    "camera": "camera original (EXIF)",
    "centrality": "closest to the others",
    "age": "older file",
    "format": "less lossy format",
    "size": "larger file",
    "path": "shorter path",
    "identical": "identical copies",
}

#: What a removed copy may carry and its keeper lack: code (as in JSON and CSV) -> words.
METADATA_WORDS: dict[str, str] = {"gps": "GPS position", "date_taken": "capture date", "camera": "camera make/model"}


def reason_words(rule: str) -> str:
    """The words for a ``Ranking.rule`` code (the code itself for one this table lacks)."""
    return KEEPER_REASONS.get(rule, rule)


def _carried(signals: KeeperSignals) -> set[str]:
    return {code for code, present in (("gps", signals.gps), ("date_taken", signals.taken),
                                       ("camera", signals.camera)) if present}


def metadata_gaps(keeper: KeeperSignals | None, removed: Iterable[KeeperSignals | None]) -> tuple[str, ...]:
    """The metadata (``METADATA_WORDS`` codes) that some file of ``removed`` carries and ``keeper`` lacks.

    Nothing where the keeper's signals are unknown (an index row of an older definition): no false alarm.
    """
    if keeper is None:
        return ()
    has = _carried(keeper)
    lacking = set().union(*(_carried(s) for s in removed if s is not None)) - has
    return tuple(code for code in METADATA_WORDS if code in lacking)


def lacks_words(codes: Iterable[str]) -> str:
    """``"the keeper lacks the GPS position, capture date a removed copy carries"``, or "" for none."""
    names = [METADATA_WORDS.get(c, c) for c in codes]
    return f"the keeper lacks the {', '.join(names)} a removed copy carries" if names else ""
