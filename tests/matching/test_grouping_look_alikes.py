"""A file in no group that matches a member looking the same as the keeper joins that group
(``grouping._with_copies_of_look_alikes``)."""

from __future__ import annotations

import numpy as np

from imgtwin.matching.grouping import LOOK_ALIKE, MATCHED_BY, Matches, form_groups


def _matches(rows: list[tuple[int, int, int, str, str]]) -> Matches:
    i, j, d, t, basis = zip(*rows)
    return Matches(np.array(i), np.array(j), np.array(d), tuple(t), basis=tuple(basis))


def test_a_copy_of_the_photo_joins_the_group_of_its_look_alike_keeper() -> None:
    # 0 (a noisy copy, kept) ~ 1 (the photo) on the thumbnails; 2 (a sticker copy) matched the photo only.
    matches = _matches([(0, 1, 4, "identity", ""), (1, 2, 20, "crop 20%", "local")])
    (group,) = form_groups(3, matches, [0, 1, 2])
    members = {m.index: m for m in group.members}
    assert set(members) == {0, 1, 2}
    assert (members[2].transform, members[2].basis, members[2].distance) == ("crop 20%", LOOK_ALIKE, 20)
    assert MATCHED_BY[LOOK_ALIKE] == "matched with a copy of the keeper that looks the same"


def test_only_a_same_frame_thumbnail_match_makes_a_look_alike() -> None:
    # 1 matched the keeper as a crop (or on local features): it shows less than the keeper, 2 stays out.
    for basis in ("crop", "local", "straightened"):
        matches = _matches([(0, 1, 4, "identity", basis), (1, 2, 20, "crop 20%", "local")])
        (group,) = form_groups(3, matches, [0, 1, 2])
        assert {m.index for m in group.members} == {0, 1}


def test_a_turned_look_alike_passes_on_its_turn_to_a_turned_copy_only() -> None:
    # The keeper turned by rotate90 is 1; 2 is a crop of 1: 2 is the keeper turned a quarter (and cropped).
    matches = _matches([(0, 1, 2, "rotate90", ""), (1, 2, 8, "identity", "crop")])
    (group,) = form_groups(3, matches, [0, 1, 2])
    assert {m.index: m.transform for m in group.members}[2] == "rotate90"
    # A fit's words say nothing of the turn: such a copy of a turned look-alike stays out.
    matches = _matches([(0, 1, 2, "rotate90", ""), (1, 2, 20, "crop 20%", "local")])
    (group,) = form_groups(3, matches, [0, 1, 2])
    assert {m.index for m in group.members} == {0, 1}


def test_a_copy_matched_on_its_hash_alone_never_chains_through_a_look_alike() -> None:
    # Two small edits in a row (each within the threshold) may join different pictures: the keeper-star rule.
    for basis in ("", "extended", "flat"):
        matches = _matches([(0, 1, 6, "identity", ""), (1, 2, 6, "identity", basis)])
        (group,) = form_groups(3, matches, [0, 1, 2])
        assert {m.index for m in group.members} == {0, 1}


def test_no_group_loses_a_file_and_decisions_hold() -> None:
    # 2 is in the group of 3 already: it stays there.
    matches = _matches([(0, 1, 4, "identity", ""), (1, 2, 20, "crop 20%", "local"), (3, 2, 2, "identity", "")])
    groups = form_groups(4, matches, [0, 3, 1, 2])
    assert sorted(sorted(g.indices) for g in groups) == [[0, 1], [2, 3]]
    # A person said 2 and the keeper are not duplicates.
    matches = _matches([(0, 1, 4, "identity", ""), (1, 2, 20, "crop 20%", "local")])
    (group,) = form_groups(3, matches, [0, 1, 2], apart=lambda a, b: {a, b} == {0, 2})
    assert set(group.indices) == {0, 1}
