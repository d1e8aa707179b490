"""Metadata a plan would lose: a file to be removed that carries what its keeper lacks.

``dedupe`` warns of each such group before it acts (dry run and real run), from
what the index records of the files as planned (``hashing.signals``), so that a
plan from a file, or with a keeper a person chose, is checked the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from imgtwin.actions.model import ActionPlan
from imgtwin.hashing.signals import SIGNALS_SPEC, KeeperSignals
from imgtwin.matching.keeper_words import lacks_words, metadata_gaps
from imgtwin.persistence.index import HashIndex


@dataclass(frozen=True, slots=True)
class MetadataGap:
    """Group ``group_id`` would keep ``keeper``, which lacks ``codes`` (``keeper_words.METADATA_WORDS``)."""

    group_id: int
    keeper: str
    codes: tuple[str, ...]

    @property
    def words(self) -> str:
        return lacks_words(self.codes)


def _signals(index: HashIndex, path: str) -> KeeperSignals | None:
    row = index.lookup(path)
    if row is None or row.signals is None or row.signals_spec != SIGNALS_SPEC:
        return None
    return KeeperSignals.from_bytes(row.signals)


def metadata_gaps_of(plan: ActionPlan, db: str) -> Iterator[MetadataGap]:
    """The groups of ``plan`` whose files to act on carry metadata their keeper lacks, in plan order."""
    acted: dict[int, tuple[str, list[str]]] = {}
    for item in plan.items:
        if item.refusal is None and item.reference is None:
            acted.setdefault(item.group_id, (item.keeper.path, []))[1].append(item.path)
    if not acted:
        return
    with HashIndex(db, readonly=True) as index:
        for group_id, (keeper, paths) in acted.items():
            codes = metadata_gaps(_signals(index, keeper), (_signals(index, p) for p in paths))
            if codes:
                yield MetadataGap(group_id, keeper, codes)
