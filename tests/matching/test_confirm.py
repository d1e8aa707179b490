"""Confirming a plan's near members: the same verdict as find's matcher, pair by pair."""

from __future__ import annotations

import itertools

import pytest
from PIL import Image, ImageOps

from imgtwin.hashing.features import MatchFeatures, compute_features
from imgtwin.matching.confirm import MAX_THRESHOLD, confirm_members, confirm_pairs, plan_params
from imgtwin.matching.near import FeatureTable, NearParams, near_matches


def _set(make_scene) -> dict[str, MatchFeatures]:  # type: ignore[no-untyped-def]
    original = make_scene(10)
    images: dict[str, Image.Image] = {
        "orig": original,
        "smaller": original.resize((240, 180), Image.Resampling.LANCZOS),
        "padded": ImageOps.pad(original, (320, 320), color=0),
        "rotated": original.transpose(Image.Transpose.ROTATE_90),
        "mirrored": original.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    }
    for k in range(4):
        images[f"other{k}"] = make_scene(40 + k)
    images["other0 smaller"] = images["other0"].resize((200, 150), Image.Resampling.LANCZOS)
    return {name: compute_features(image) for name, image in images.items()}


def test_copies_are_confirmed_and_other_pictures_are_not(make_scene) -> None:  # type: ignore[no-untyped-def]
    features = _set(make_scene)
    names = ["orig", "smaller", "padded", "rotated", "mirrored", "other1", "other2"]
    verdict = confirm_members([features[n] for n in names], 0, NearParams())
    assert dict(zip(names, verdict)) == {"orig": True, "smaller": True, "padded": True, "rotated": True,
                                         "mirrored": True, "other1": False, "other2": False}
    upright = confirm_members([features[n] for n in names], 0, NearParams(rotations=False))
    assert dict(zip(names, upright))["rotated"] is False and dict(zip(names, upright))["smaller"] is True


def test_every_pair_gets_the_verdict_find_gives_it(make_scene) -> None:  # type: ignore[no-untyped-def]
    """Confirming on a table of two files agrees with near_matches on the whole set, for every pair."""
    features = _set(make_scene)
    names = sorted(features)
    for params in (NearParams(), NearParams(threshold=0), NearParams(threshold=12, rotations=False)):
        matches, _ = near_matches(FeatureTable.from_features([features[n] for n in names]), params)
        found = {frozenset((names[i], names[j])) for i, j in zip(matches.i.tolist(), matches.j.tolist())}
        for a, b in itertools.combinations(names, 2):  # a < b: the order find loads them in
            assert confirm_members([features[a], features[b]], 0, params)[1] == (frozenset((a, b)) in found), (a, b)
            assert confirm_members([features[a], features[b]], 1, params)[0] == (frozenset((a, b)) in found), (a, b)
        assert found  # the set does hold matches
        pairs = list(itertools.combinations(range(len(names)), 2))  # every group of the set checked at once
        verdicts = confirm_pairs([features[n] for n in names], pairs, params)
        assert verdicts == [frozenset((names[a], names[b])) in found for a, b in pairs]


def test_plan_params_take_finds_defaults_and_cap_the_threshold() -> None:
    assert plan_params() == NearParams()
    assert plan_params(3, False) == NearParams(threshold=3, rotations=False)
    assert plan_params(63, True).threshold == MAX_THRESHOLD == 20
    for bad in ("6", 6.0, True):
        with pytest.raises(TypeError):
            plan_params(bad, True)
    with pytest.raises(ValueError, match="0 bits or more"):
        plan_params(-1, True)
    with pytest.raises(TypeError):
        plan_params(6, "yes")
    with pytest.raises(IndexError):
        confirm_members([], 0)
    with pytest.raises(IndexError):
        confirm_pairs([], [(0, 1)])
    assert confirm_pairs([], []) == []
