"""Deep matches in the keeper-star grouping: transform text both ways, derived copies never kept."""

from __future__ import annotations

import numpy as np

from imgtwin.matching.grouping import Matches, form_groups
from imgtwin.matching.keeper import FileInfo, KeeperPolicy, keeper_order


def test_concatenated_matches_keep_each_directions_text() -> None:
    plain = Matches(np.array([0]), np.array([1]), np.array([2]), ("rotate90",))
    deep = Matches(np.array([2]), np.array([0]), np.array([20]), ("inside a larger frame",), inverse=("crop 30%",))
    both = plain.concat(deep)
    assert both.inverses() == ("rotate270", "crop 30%")
    groups = form_groups(3, both, [0, 1, 2])
    members = {m.index: m for m in groups[0].members}
    assert members[1].transform == "rotate90"
    assert members[2].transform == "crop 30%"  # file 2 as seen from keeper 0
    flipped = form_groups(3, both, [2, 0, 1])
    assert {m.index: m.transform for m in flipped[0].members}[0] == "inside a larger frame"


def test_derived_copies_come_after_every_other_file_under_every_policy() -> None:
    infos = [
        FileInfo("/a/original.jpg", 1_000_000, 10, 1200, 900, "JPEG"),
        FileInfo("/a/screenshot.png", 3_000_000, 20, 1170, 2532, "PNG"),  # more pixels, larger, newer
        FileInfo("/a/crop.jpg", 900_000, 5, 900, 900, "JPEG"),  # oldest
    ]
    for policy in (KeeperPolicy.BEST, KeeperPolicy.LARGEST, KeeperPolicy.NEWEST, KeeperPolicy.OLDEST):
        plain = keeper_order(infos, policy)
        order = keeper_order(infos, policy, derived=[1, 2])
        assert order[0] == 0, policy
        assert order[1:] == [k for k in plain if k != 0]  # the derived ones keep their relative rank
    assert keeper_order(infos, KeeperPolicy.LARGEST)[0] == 1  # what --deep prevents
