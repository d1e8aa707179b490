"""A plan run: find the groups (``runs.find``), then plan an action on them (``actions.plan``)."""

from __future__ import annotations

from collections.abc import Sequence

from imgtwin.actions.model import ActionKind, ActionPlan
from imgtwin.actions.plan import check_move_to, plan_from_groups
from imgtwin.options import MatchOptions, ScanOptions, db_keyword, expand
from imgtwin.runs.find import find_duplicates
from imgtwin.runs.scan import default_db_path


def plan_actions(
    paths: Sequence[str],
    action: ActionKind | str,
    *,
    db: str | None = None,
    move_to: str | None = None,
    match: MatchOptions | None = None,
    options: ScanOptions | None = None,
    scan: bool = True,
    db_path: str | None = None,
) -> ActionPlan:
    """Find the duplicates under ``paths`` (as ``find`` would, with ``match`` and ``options``) and plan ``action``.

    ``match.reference``: folders whose files are never acted on. Nothing is
    changed on disk but the index; apply the plan with ``apply_plan``. ``db``: the index (``db_path``: its
    old, deprecated keyword).
    """
    match = match or MatchOptions()
    paths = [expand(p) for p in paths]  # "~/Pictures", as a shell would (MatchOptions expands its folders)
    reference = list(match.reference)
    move_to = expand(move_to) if move_to else move_to
    db = db_keyword(db, db_path, "plan_actions")
    db = expand(db) if db else default_db_path()
    if move_to:
        check_move_to(move_to, paths, reference)  # before scanning: a wrong --move-to fails at once
    result = find_duplicates(paths, db_path=db, match=match, options=options, scan=scan)
    return plan_from_groups(result.groups, paths, action, db=db, move_to=move_to, reference=reference,
                            threshold=match.bits, rotations=match.searches_rotations)
