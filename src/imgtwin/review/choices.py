"""The page's keeper choices and unticked files, kept in the index so a reload or a restart keeps them.

The page posts a group's whole review after each change (``{"version", "group",
"keep": ID or null, "excluded": [IDS]}``, null: the automatic keeper), so a
request replaces what is stored and the last one wins; the page reads them back
with the groups (``GET /api/choices``). They are stored by content
(``persistence.review_choices``), so a rescan, a moved folder or a new run of the
app finds them where the files are the same. Acting honours them here, whatever
a request asks: a file a person chose to keep or unticked is never acted on.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from imgtwin.persistence.index import HashIndex
from imgtwin.persistence.review_choices import ChoiceError, GroupChoice, Member, read_choices, store_choice
from imgtwin.review.acting import DecisionError, Decisions, ReviewGroups, group_position


def members(groups: ReviewGroups, position: int) -> tuple[list[Member], int]:
    """A group's members as choices are kept by, and the index of the keeper found."""
    found = groups.document["groups"][position]["members"]
    automatic = next((i for i, m in enumerate(found) if m.get("keep")), 0)
    return [Member(f.content_hash, os.path.abspath(f.path)) for f in groups.files[position]], automatic


class ReviewChoices:
    """The stored choices that hold for the groups shown, read from the index once per version of them."""

    def __init__(self, db_path: str | None) -> None:
        self.db_path = db_path
        self._lock = threading.RLock()  # a store and the cache it updates, one at a time
        self._version = -1
        self._choices: dict[int, GroupChoice] = {}

    def current(self, groups: ReviewGroups) -> dict[int, GroupChoice]:
        """Group id -> the choice that holds for it (groups with none are left out)."""
        with self._lock:
            if self._version != groups.version:
                self._choices = self._read(groups)
                self._version = groups.version
            return self._choices

    def _read(self, groups: ReviewGroups) -> dict[int, GroupChoice]:
        stored = read_choices(self.db_path) if groups.files else None
        if stored is None:
            return {}
        out = {}
        for position, group in enumerate(groups.document["groups"]):
            choice = stored.resolve(*members(groups, position))
            if not choice.empty:
                out[int(group["id"])] = choice
        return out

    def as_json(self, groups: ReviewGroups) -> dict[str, Any]:
        """``{"version", "groups": {id: {"keep": file id or null, "excluded": [file ids]}}}`` for the page."""
        out = {}
        for gid, choice in self.current(groups).items():
            position = groups.position(gid)
            assert position is not None
            ids = groups.ids[position]
            out[str(gid)] = {"keep": None if choice.keeper is None else ids[choice.keeper],
                             "excluded": [ids[i] for i in choice.excluded]}
        return {"version": groups.version, "groups": out}

    def store(self, body: Any, groups: ReviewGroups) -> dict[str, Any]:
        """Keeps the page's review of one group (DecisionError: what is wrong with the request)."""
        if self.db_path is None:
            raise DecisionError("this session has no index to keep choices in", 409)
        gid, position, choice = _parse(body, groups)
        found, automatic = members(groups, position)
        if choice.keeper == automatic:
            choice = GroupChoice(None, choice.excluded)
        if (automatic if choice.keeper is None else choice.keeper) in choice.excluded:
            raise DecisionError(f"group {gid}: the keeper cannot be unticked")
        with self._lock:
            choices = dict(self.current(groups))
            try:
                with HashIndex(self.db_path) as index:
                    store_choice(index.conn, found, choice)
            except ChoiceError as exc:
                raise DecisionError(str(exc), 409) from None
            choices.pop(gid, None)
            if not choice.empty:
                choices[gid] = choice
            self._choices = choices
        return {"group": gid, "stored": not choice.empty}

    def honour(self, decisions: Decisions, groups: ReviewGroups) -> Decisions:
        """``decisions`` without any file a person chose to keep or unticked (as stored, not as requested)."""
        choices = self.current(groups)
        kept = []
        for gid, keep, act in decisions.groups:
            choice = choices.get(gid)
            if choice is not None:
                position = groups.position(gid)
                assert position is not None
                ids = groups.ids[position]
                spared = {ids[i] for i in choice.excluded} | ({ids[choice.keeper]} if choice.keeper is not None else set())
                act = tuple(a for a in act if a not in spared)
            if act:
                kept.append((gid, keep, act))
        if not kept:
            raise DecisionError("nothing to do: every file asked for is one you chose to keep or unticked")
        return Decisions(decisions.action, decisions.move_to, tuple(kept))


def _parse(body: Any, groups: ReviewGroups) -> tuple[int, int, GroupChoice]:
    """The group a request names, where it is, and the choice it asks to keep (indices of its members)."""
    position = group_position(body, groups)
    gid, ids = body["group"], groups.ids[position]
    keep, excluded = body.get("keep"), body.get("excluded", [])
    if keep is not None and (not isinstance(keep, str) or keep not in ids):
        raise DecisionError(f"group {gid}: the file to keep is not a member of the group")
    if not isinstance(excluded, list) or not all(isinstance(i, str) and i in ids and i != keep for i in excluded) \
            or len(set(excluded)) != len(excluded):
        raise DecisionError(f"group {gid}: the unticked files must be other members of the group than the keeper, "
                            "once each")
    return gid, position, GroupChoice(None if keep is None else ids.index(keep), tuple(sorted(ids.index(i) for i in excluded)))
