"""``--deep`` matching: the stored local features of the compared files, and the matches they add.

* :func:`local_features_for`: the stored features of the compared files
  (computed by the run's deep pass, ``runs.deep``).
* :func:`deep_extra_matches`: the deep matches the global matcher did not
  make, as extra ``grouping.Matches``, and which members are derived copies
  (crops, screenshots) that must not be kept over their source.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imgtwin.hashing.local import LocalFeatures, LocalSpec
from imgtwin.matching.deep import DeepMatches, DeepParams, deep_matches
from imgtwin.matching.grouping import Matches
from imgtwin.matching.hashtable import HashTable
from imgtwin.matching.table import FeatureTable
from imgtwin.persistence.local_features import LocalFeatureStore

LOCAL_SPEC = LocalSpec()


def local_features_for(db_path: str, content_hashes: Sequence[str | None], spec: LocalSpec = LOCAL_SPEC
                       ) -> list[LocalFeatures | None]:  # fmt: skip
    """The stored features of each content hash (None: none stored, or no hash)."""
    with LocalFeatureStore(db_path) as store:
        data = store.load((h for h in content_hashes if h), spec.id)
    decoded: dict[str, LocalFeatures] = {}
    out: list[LocalFeatures | None] = []
    for digest in content_hashes:
        if not digest or digest not in data:
            out.append(None)
            continue
        if digest not in decoded:
            decoded[digest] = LocalFeatures.from_bytes(data[digest])
        out.append(decoded[digest])
    return out


def deep_extra_matches(
    matches: Matches,
    table: FeatureTable | HashTable,
    local: Sequence[LocalFeatures | None],
    content_hashes: Sequence[str | None],
    params: DeepParams = DeepParams(),
) -> tuple[Matches, list[tuple[int, int]], DeepMatches]:
    """``matches`` plus the deep matches it lacks; ``(source, derived)`` pairs; the deep matches.

    Byte copies share one feature record, so only the first file of each
    content is matched (the grouping makes its twins follow it).
    """
    first: dict[str, int] = {}
    unique = []
    for k, digest in enumerate(content_hashes):
        if local[k] is None:
            continue
        if digest and digest in first:
            continue
        if digest:
            first[digest] = k
        unique.append(k)
    index = np.array(unique, dtype=np.int64)
    known = {(min(a, b), max(a, b)) for a, b in zip(matches.i.tolist(), matches.j.tolist())}
    position = {k: p for p, k in enumerate(unique)}
    skip = {(min(position[a], position[b]), max(position[a], position[b])) for a, b in known
            if a in position and b in position}  # fmt: skip
    pixels = table.take(index) if len(index) else None
    found = deep_matches([local[k] for k in unique], pixels.full(np.arange(len(index))) if pixels is not None
                         else None, pixels.hashes if pixels is not None else None, params, skip)
    found = found.of_rows(index)
    return matches.concat(found.matches()), found.derived, found
