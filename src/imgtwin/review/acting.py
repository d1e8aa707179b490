"""From the page's decisions to an action plan, and the journals of past runs.

The page never sends paths. It sends, per group, the id of the file to keep
and the ids of the files to act on; the plan is built here from the server's
own copy of the groups, so a request can only choose among the members of a
group the finder made: it cannot name another file, nor pair files from two
groups. The plan then goes through ``actions.plan_from_reviewed`` (the
vetting ``dedupe --plan FILE`` applies to a document, without writing one) and
``apply_plan``, the code behind ``dedupe --plan FILE --yes``: the same checks
right before each file, the same journal, the same undo.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from imgtwin.actions import ActionKind, ActionPlan, JournalError, read_journal
from imgtwin.actions.journal import default_journal_path
from imgtwin.actions.plan import Proposed, containing_root, plan_from_reviewed
from imgtwin.review.catalog import ServedFile
from imgtwin.review.inputs import InputError, is_id

DELETE_CONFIRMATION = "delete"
MAX_PATH = 4096  # PATH_MAX


class DecisionError(InputError):
    """Decisions that cannot be used; ``status`` is the HTTP status to answer with."""


@dataclass(frozen=True)
class ReviewGroups:
    """One version of the groups, as the page was sent them."""

    version: int
    document: dict[str, Any]
    files: tuple[tuple[ServedFile, ...], ...]
    ids: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...] = ()
    _positions: dict[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_positions", {g["id"]: k for k, g in enumerate(self.document["groups"])})

    def position(self, group_id: int) -> int | None:
        """Where group ``group_id`` is in the document, or None."""
        return self._positions.get(group_id)


@dataclass(frozen=True)
class Decisions:
    action: ActionKind
    move_to: str | None
    groups: tuple[tuple[int, str, tuple[str, ...]], ...]  # (group id, keeper id, ids to act on)


def parse_decisions(body: Any, groups: ReviewGroups, roots: Sequence[str], *, applying: bool = True) -> Decisions:
    """Checks the page's request against the current groups; DecisionError says what is wrong.

    ``applying``: for the real run, where a delete needs its typed confirmation (a dry run does not).
    """
    if not isinstance(body, dict):
        raise DecisionError("the request is not a JSON object")
    if not is_id(body.get("version")):
        raise DecisionError("the request needs the version of the groups the page shows")
    if body.get("version") != groups.version:
        raise DecisionError("the groups changed since the page got them: review the new groups", 409)
    name = body.get("action")
    try:
        action = ActionKind(name if isinstance(name, str) else None)
    except ValueError:
        raise DecisionError(f"unknown action {name!r:.40}") from None
    if applying and action is ActionKind.DELETE and body.get("confirm") != DELETE_CONFIRMATION:
        raise DecisionError(f"delete is permanent: type {DELETE_CONFIRMATION!r} to confirm it")
    move_to = _move_target(body.get("move_to"), roots) if action.to_folder else None
    raw = body.get("groups")
    if not isinstance(raw, list):
        raise DecisionError("groups must be a list")
    chosen = []
    seen_groups: set[int] = set()
    for entry in raw:
        if not isinstance(entry, dict) or not is_id(entry.get("id")) or entry["id"] in seen_groups:
            raise DecisionError("each group needs its id, once")
        gid = entry["id"]
        seen_groups.add(gid)
        position = groups.position(gid)
        if position is None:
            raise DecisionError(f"there is no group {gid}", 409)
        ids, members = groups.ids[position], groups.files[position]
        keep, act = entry.get("keep"), entry.get("act")
        if not isinstance(keep, str) or keep not in ids:
            raise DecisionError(f"group {gid}: the file to keep is not a member of the group")
        if not isinstance(act, list) or not all(isinstance(a, str) and a in ids and a != keep for a in act) \
                or len(set(act)) != len(act):
            raise DecisionError(f"group {gid}: the files to act on must be other members of the group, once each")
        if any(members[ids.index(str(a))].reference for a in act):
            raise DecisionError(f"group {gid}: files in a reference folder are never touched")
        if act:
            chosen.append((gid, keep, tuple(act)))
    if not chosen:
        raise DecisionError("nothing to do: no group has a file to act on")
    return Decisions(action, move_to, tuple(chosen))


def group_position(body: Any, groups: ReviewGroups) -> int:
    """Where the group a request about one group (``{"version", "group": ID, ...}``) names is; DecisionError
    (409 where the page shows other groups than the server's) if it names none."""
    if not isinstance(body, dict):
        raise DecisionError("the request is not a JSON object")
    if not is_id(body.get("version")) or not is_id(body.get("group")):
        raise DecisionError("the request needs the version of the groups and the id of the group")
    if body["version"] != groups.version:
        raise DecisionError("the groups changed since the page got them: review the new groups", 409)
    position = groups.position(body["group"])
    if position is None:
        raise DecisionError(f"there is no group {body['group']}", 409)
    return position


def parse_apart(body: Any, groups: ReviewGroups) -> tuple[list[str], list[str]]:
    """The page's "not duplicates" mark: ``{"version", "group": ID, "files": [ids]}`` (no files: the whole group).

    Returns the group's paths and those of the files set apart from the others (empty: all of them).
    """
    position = group_position(body, groups)
    ids, members = groups.ids[position], groups.files[position]
    chosen = body.get("files", [])
    if not isinstance(chosen, list) or not all(isinstance(i, str) and i in ids for i in chosen) \
            or len(set(chosen)) != len(chosen) or len(chosen) >= len(ids):
        raise DecisionError(f"group {body['group']}: the files set apart must be some members of the group, once each")
    paths = [os.path.abspath(f.path) for f in members]
    return paths, [paths[ids.index(i)] for i in chosen]


def _move_target(value: Any, roots: Sequence[str]) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DecisionError("move needs a folder to move the files to")
    if "\0" in value or len(value) > MAX_PATH:
        raise DecisionError(f"the move folder is not a path (a NUL character, or over {MAX_PATH} characters)")
    target = os.path.expanduser(value.strip())
    if not os.path.isabs(target):
        raise DecisionError("the move folder must be an absolute path (or start with ~)")
    target = os.path.normpath(target)
    try:
        real_roots = [os.path.realpath(r) for r in roots]
        inside = containing_root(target, roots) or containing_root(os.path.realpath(target), real_roots)
        not_folder = os.path.lexists(target) and not os.path.isdir(target)
    except OSError as exc:  # a link loop, or links changing while they are resolved
        raise DecisionError(f"cannot use {value} as the move folder: {exc.strerror or exc}") from None
    if inside:
        raise DecisionError(f"{value} is inside a scanned folder: choose a folder outside")
    if not_folder:
        raise DecisionError(f"{value} exists and is not a folder")
    return target


def reviewed_groups(groups: ReviewGroups, decisions: Decisions) -> list[Proposed]:
    """The decided groups, each with the keeper and the files chosen, their paths and sizes as found."""
    out = []
    for gid, keep, act in decisions.groups:
        position = groups.position(gid)
        assert position is not None
        ids, files = groups.ids[position], groups.files[position]
        chosen = [(os.path.abspath(f.path), f.size) for f in (files[ids.index(i)] for i in (keep, *act))]
        category = "exact" if groups.document["groups"][position].get("category") == "exact" else "near"
        out.append(Proposed(gid, category, chosen[0], tuple(chosen[1:])))
    return out


def build_plan(
    groups: ReviewGroups, decisions: Decisions, *, roots: Sequence[str], db_path: str,
    reference: Sequence[str] = (),
) -> ActionPlan:
    """The action plan for the page's decisions, vetted as ``dedupe --plan`` vets a document."""
    return plan_from_reviewed(reviewed_groups(groups, decisions), decisions.action, roots=roots, db=db_path,
                              move_to=decisions.move_to, reference=reference,
                              threshold=groups.document.get("threshold"), rotations=groups.document.get("rotations"))


def journal_dir() -> str:
    """The folder ``dedupe --yes`` writes its journals to."""
    return os.path.dirname(default_journal_path("x"))


@dataclass(frozen=True)
class RunInfo:
    """A past dedupe run (from the review page or the command line), read from its journal."""

    run_id: str
    journal: str
    action: str
    started_at: str
    finished: bool
    roots: tuple[str, ...]
    done: int
    failed: int
    skipped: int
    undone: int
    to_undo: int  # actions neither failed nor undone yet

    @property
    def undoable(self) -> bool:
        return self.action != ActionKind.DELETE.value and self.to_undo > 0

    def as_json(self) -> dict[str, Any]:
        from imgtwin.reporting.text import printable

        return {"run_id": self.run_id, "journal": printable(self.journal), "action": self.action,
                "started_at": self.started_at, "finished": self.finished,
                "roots": [printable(r) for r in self.roots], "done": self.done, "failed": self.failed,
                "skipped": self.skipped, "undone": self.undone, "to_undo": self.to_undo,
                "undoable": self.undoable}


class RunCatalog:
    """The journals in ``folder`` of runs inside ``roots``, newest first; undo goes by run id only."""

    def __init__(self, folder: str, roots: Sequence[str]) -> None:
        self.folder = folder
        self.roots = tuple(os.path.abspath(r) for r in roots)
        self._cache: dict[str, tuple[tuple[int, int], RunInfo | None]] = {}

    def runs(self) -> list[RunInfo]:
        try:
            names = [n for n in os.listdir(self.folder) if n.endswith(".jsonl")]
        except OSError:
            return []
        runs = []
        for name in names:
            info = self._read(os.path.join(self.folder, name))
            if info is not None and info.roots and all(containing_root(r, self.roots) for r in info.roots):
                runs.append(info)
        runs.sort(key=lambda r: (r.started_at, r.journal), reverse=True)
        return runs

    def find(self, run_id: str) -> RunInfo | None:
        return next((r for r in self.runs() if r.run_id == run_id), None)

    def _read(self, path: str) -> RunInfo | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        key = (st.st_size, st.st_mtime_ns)
        cached = self._cache.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        info = _run_info(path)
        self._cache[path] = (key, info)
        return info


def _run_info(path: str) -> RunInfo | None:
    try:
        contents = read_journal(path)
    except (OSError, JournalError):
        return None
    header: Mapping[str, Any] = contents.header
    entries = contents.entries
    roots = header.get("roots")
    if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots) or not header.get("run_id"):
        return None
    return RunInfo(
        run_id=str(header["run_id"]), journal=path, action=str(header.get("action")),
        started_at=str(header.get("started_at", "")), finished=contents.finished, roots=tuple(roots),
        done=sum(e.state == "done" for e in entries), failed=sum(e.state == "failed" for e in entries),
        skipped=len(contents.skipped), undone=sum(e.undone for e in entries),
        to_undo=sum(not e.undone and e.state != "failed" for e in entries),
    )
