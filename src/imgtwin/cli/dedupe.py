"""``imgtwin dedupe`` and ``imgtwin undo``: act on duplicates, safely, and take it back.

A thin layer over ``imgtwin.actions``: options in, plan, then a dry run
(default) or the real run (``--yes``), printed one file per line. Exit codes:
0 every file done (or, in a dry run, doable); 1 some file was skipped or failed,
or could not be read by the scan, or a group of the plan was refused; 2 usage or fatal error; 130 Ctrl-C.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

import click
from rich.markup import escape

from imgtwin.actions import (
    ActionKind,
    ActionPlan,
    ApplyReport,
    FileOps,
    ItemOutcome,
    JournalError,
    JournalWriteError,
    PlanError,
    RealFileOps,
    UndoOutcome,
    apply_plan,
    check_move_to,
    plan_from_file,
    plan_from_groups,
    preview_plan,
    undo_journal,
)
from imgtwin.actions.journal import default_journal_path
from imgtwin.actions.metadata import metadata_gaps_of
from imgtwin.actions.model import Honoured
from imgtwin.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SOME_FAILED,
    err_console,
    fail,
    fatal_errors,
    injected,
    stop_on_first_interrupt,
)
from imgtwin.cli.flags import (
    FILTER_NAMES,
    db_option,
    examples,
    filter_options,
    given_here,
    no_progress_option,
    selection_options,
    with_fields,
    workers_option,
    workers_settings,
)
from imgtwin.matching.indexed import PathDisplay
from imgtwin.options import MatchOptions, ScanOptions
from imgtwin.persistence.location import default_db_path
from imgtwin.reporting.groups import decided_line, human_bytes
from imgtwin.reporting.text import printable
from imgtwin.runs.context import RunContext
from imgtwin.runs.find import find_duplicates

DELETE_FLAG = "--i-understand-delete-is-permanent"
_SELECTION = ("similarity", "threshold", "rotations", "keep", "prefer", "prefer_format", "deep", *FILTER_NAMES)


def _fileops() -> FileOps:
    """The file operations to use: tests may pass their own as ``main(obj={"fileops": ...})``."""
    ops = injected("fileops")
    return ops if ops is not None else RealFileOps()


class _Printer:
    """One line per file, under a heading per group; paths as the user wrote the roots."""

    def __init__(self, plan: ActionPlan, dry_run: bool) -> None:
        self.show = PathDisplay(plan.display_roots or plan.roots)
        self.dry_run = dry_run
        self.action = plan.action
        self.group: int | None = None

    def path(self, path: str) -> str:
        return printable(self.show(path))

    def __call__(self, outcome: ItemOutcome) -> None:
        item = outcome.item
        if item.group_id != self.group:
            self.group = item.group_id
            click.echo(f"Group {item.group_id} ({item.category}), keep: {self.path(item.keeper.path)}")
        size = human_bytes(item.file.size)
        where = ""
        if outcome.detail and self.action.to_folder:
            where = f" -> {self.path(outcome.detail)}"
        elif outcome.detail and self.action is ActionKind.TRASH:
            where = f" -> {printable(outcome.detail)}"
        if outcome.status in ("would", "done"):
            verb = self.action.value if self.dry_run else self.action.past
            note = f"  ({outcome.reason})" if outcome.reason else ""
            click.echo(f"  {verb:<11} {self.path(item.path)}{where}  [{size}]{note}")
        elif outcome.status == "unchanged":
            click.echo(f"  {'unchanged':<11} {self.path(item.path)}: {outcome.reason}")
        elif outcome.status == "protected":
            click.echo(f"  {'reference':<11} {self.path(item.path)}: {outcome.reason}")
        else:
            label = "skip" if outcome.status == "skipped" else "FAILED"
            click.echo(f"  {label:<11} {self.path(item.path)}: {outcome.reason}")


def honoured_line(honoured: Honoured) -> str:
    """What the plan took from the review app: a person's keepers are kept, their unticked files left alone."""
    parts = []
    if honoured.chosen_keepers:
        parts.append(f"{honoured.chosen_keepers} group(s) keep the file you chose in the review app")
    if honoured.spared:
        parts.append(f"{honoured.spared} file(s) you unticked there are left alone")
    return "; ".join(parts) + "."


def _summary(report: ApplyReport) -> str:
    action = report.plan.action
    reclaimed = {ActionKind.MOVE: "moved out", ActionKind.COPY: "copied (nothing removed)"}.get(action, "reclaimed")
    if action is ActionKind.TRASH:
        reclaimed = "moved to the trash (freed when the trash is emptied)"
    if report.dry_run:
        head = f"Dry run: {report.count('would')} file(s) would be {action.past}, {human_bytes(report.bytes)} {reclaimed}"
    else:
        state = "Stopped" if report.cancelled or report.journal_error else "Done"
        head = f"{state}: {report.count('done')} file(s) {action.past}, {human_bytes(report.bytes)} {reclaimed}"
    parts = [f"{report.count('skipped')} skipped"]
    if not report.dry_run:
        parts.append(f"{report.count('failed')} failed")
    if report.count("unchanged"):
        parts.append(f"{report.count('unchanged')} already linked to their keeper")
    if report.count("protected"):
        parts.append(f"{report.count('protected')} in reference folders left alone")
    if report.plan.refused:
        parts.append(f"{len(report.plan.refused)} group(s) refused")
    return f"{head}; {', '.join(parts)}."


@click.command(epilog=examples(
    "imgtwin dedupe ~/Pictures --db photos.db --action trash          # dry run: prints what would happen",
    "imgtwin dedupe ~/Pictures --db photos.db --action trash --yes    # then undo with the printed command",
    "imgtwin dedupe --plan groups.json --db photos.db --action move --move-to ~/dupes --yes",
))
@click.argument("dirs", nargs=-1, type=click.Path(path_type=str))
@db_option("SQLite index")
@click.option("--action", "action", type=click.Choice([a.value for a in ActionKind]), required=True,
              help="What to do with every file but the keeper: trash, move (to --move-to), copy (to --copy-to, "
                   "leaving it in place), hardlink or symlink "
                   f"to the keeper, or delete (permanent: needs {DELETE_FLAG}).")
@click.option("--move-to", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Folder for --action move; each file keeps its folders below its scanned root.")
@click.option("--copy-to", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Folder for --action copy: every duplicate is copied there (its folders below its scanned root "
                   "kept) and left in place; undo removes the copies.")
@click.option("--plan", "plan_path", type=click.Path(dir_okay=False, exists=True, path_type=str), default=None,
              help="Act on a `find --json` file (keep flags may be edited: exactly one keep per group) "
                   "instead of finding again. DIRS, if given, are the folders files must be in "
                   "(default: the index's roots).")
@click.option("--journal", "journal_path", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Journal file to create (must not exist) [default: a new file in the user data folder].")
@click.option("--yes", is_flag=True, help="Apply the plan. Without it, only print what would happen.")
@click.option(DELETE_FLAG, "allow_delete", is_flag=True,
              help="Required with --action delete --yes: deleted files cannot be restored by undo.")
@selection_options
@filter_options
@workers_option
@no_progress_option
def dedupe(
    dirs: tuple[str, ...], db_path: str | None, action: str, move_to: str | None, copy_to: str | None,
    plan_path: str | None,
    journal_path: str | None, yes: bool, allow_delete: bool, match: MatchOptions, options: ScanOptions,
    workers: int | str, no_progress: bool,
) -> None:
    """Trash, move or link every duplicate under DIRS but its group's keeper (dry run unless --yes)."""
    ctx = click.get_current_context()
    kind = ActionKind(action)
    if kind is ActionKind.MOVE and not move_to:
        raise click.UsageError("--action move needs --move-to DIR")
    if move_to and kind is not ActionKind.MOVE:
        raise click.UsageError("--move-to goes with --action move")
    if kind is ActionKind.COPY and not copy_to:
        raise click.UsageError("--action copy needs --copy-to DIR")
    if copy_to and kind is not ActionKind.COPY:
        raise click.UsageError("--copy-to goes with --action copy")
    move_to = move_to or copy_to  # the one destination folder of the plan
    option = "--copy-to" if copy_to else "--move-to"
    if kind is ActionKind.DELETE and yes and not allow_delete:
        raise click.UsageError(f"delete is permanent and undo cannot reverse it: add {DELETE_FLAG} to apply it, "
                               "or use --action trash")
    if not dirs and not plan_path:
        raise click.UsageError("give folders to deduplicate, or --plan FILE")
    if plan_path:
        # the configuration file's choices do not apply to a plan: only what is typed here is refused
        given = [p.opts[0] for p in ctx.command.params if p.name in _SELECTION and given_here(p.name)]
        if given:
            raise click.UsageError(f"{', '.join(given)} choose groups, which --plan already holds")
    reference = match.reference
    console = err_console()
    db = db_path or default_db_path()
    if move_to:
        try:
            check_move_to(move_to, dirs, reference, option)  # again once the plan knows its roots
        except PlanError as exc:
            fail(console, str(exc))
    if journal_path and os.path.lexists(journal_path):
        fail(console, f"the journal {journal_path} already exists: choose a new file")
    cancel = threading.Event()
    unreadable = 0
    with fatal_errors(console, db), stop_on_first_interrupt(cancel, console):
        try:
            if plan_path:
                plan = plan_from_file(plan_path, kind, roots=dirs, db=db, move_to=move_to, reference=reference)
                if not plan.roots:
                    fail(console, f"the index {db} records no scanned folders: give the folders the plan covers")
            else:
                # find_duplicates, then the plan (as plan_actions does), so that the scan's progress and
                # failures are shown on this console and its outcome decides the exit code
                run = RunContext(cancel, console, quiet=False, progress=not no_progress)
                found = find_duplicates(dirs, db_path=db, match=match, options=with_fields(options, **workers_settings(workers)),
                                        run=run)
                if found.cancelled:
                    console.print("[yellow]Scan stopped: nothing was done.[/]", highlight=False)
                    sys.exit(EXIT_INTERRUPTED)
                unreadable = len(found.errors)
                if found.decided:
                    console.print(decided_line(len(found.decided), found.decided_files) + ": left alone.",
                                  highlight=False, soft_wrap=True)
                plan = plan_from_groups(found.groups, dirs, kind, db=db, move_to=move_to, reference=reference,
                                        threshold=match.bits, rotations=match.searches_rotations)
        except PlanError as exc:
            fail(console, str(exc))
        if plan.honoured.chosen_keepers or plan.honoured.spared:
            console.print(honoured_line(plan.honoured), highlight=False, soft_wrap=True)
        for refused in plan.refused:
            console.print(f"[yellow]Refused: {escape(printable(refused.reason))}[/]", highlight=False)
        printer = _Printer(plan, dry_run=not yes)
        for gap in metadata_gaps_of(plan, db):  # before anything is done, in a dry run as in a real one
            console.print(f"[yellow]Warning: group {gap.group_id}: {escape(gap.words)} (keep: "
                          f"{escape(printer.path(gap.keeper))})[/]", highlight=False, soft_wrap=True)
        ops = _fileops()
        if not yes:
            report = preview_plan(plan, ops=ops, on_item=printer)
        else:
            journal = journal_path or default_journal_path(kind.value)
            click.echo(f"Journal: {journal}")
            try:
                report = apply_plan(plan, journal, ops=ops, on_item=printer, cancel=cancel,
                                    allow_delete=allow_delete)
            except JournalWriteError as exc:
                fail(console, f"{exc}: nothing was changed")
    click.echo(_summary(report))
    if report.dry_run:
        if kind is ActionKind.DELETE:
            click.echo(f"Delete is permanent: undo cannot bring deleted files back. To apply: --yes {DELETE_FLAG}.")
        else:
            click.echo("Nothing was changed. To apply: the same command with --yes.")
    else:
        click.echo(f"Journal: {report.journal_path}")
        if kind is ActionKind.DELETE:
            click.echo("Deleted files cannot be restored: undo reverses nothing of a delete run.")
        else:
            click.echo(f"To undo: imgtwin undo {_quote(report.journal_path or '')}")
    if unreadable:
        console.print(f"[yellow]{unreadable} file(s) under these folders could not be read, so were not compared: "
                      "see `imgtwin errors`.[/]", highlight=False)
    if report.journal_error:
        fail(console, printable(report.journal_error))
    if report.cancelled:
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_OK if report.complete and not unreadable else EXIT_SOME_FAILED)


def _quote(path: str) -> str:
    import shlex

    return shlex.quote(printable(path))


@click.command(epilog=examples("imgtwin undo ~/.local/share/imgtwin/journals/dedupe-trash-20260101-120000-4242.jsonl   # as dedupe printed it"))
@click.argument("journal", type=click.Path(dir_okay=False, path_type=str))
def undo(journal: str) -> None:
    """Reverse a dedupe run from its JOURNAL (moves, links and trash; not delete)."""
    console = err_console()
    if not os.path.isfile(journal):
        fail(console, f"no journal at {journal}")

    def show(outcome: UndoOutcome) -> None:
        path = printable(outcome.path)
        if outcome.status == "restored":
            click.echo(f"restored      {path}" + (f"  ({outcome.reason})" if outcome.reason else ""))
        elif outcome.status == "failed" or outcome.status == "irreversible":
            click.echo(f"NOT UNDONE    {path}: {outcome.reason}")

    try:
        report = undo_journal(journal, ops=_fileops(), on_item=show)
    except JournalError as exc:
        fail(console, str(exc))
    except OSError as exc:
        fail(console, f"cannot use the journal {journal}: {exc.strerror or exc}")
    counts: dict[str, Any] = {s: report.count(s) for s in ("restored", "not_needed", "already_undone", "failed",
                                                            "irreversible")}
    click.echo(
        f"Undo: {counts['restored']} restored, {counts['not_needed']} had not happened, "
        f"{counts['already_undone']} already undone, {counts['failed'] + counts['irreversible']} could not be "
        f"undone ({counts['irreversible']} deleted permanently)."
    )
    if report.bad_lines:
        console.print(f"[yellow]{report.bad_lines} journal line(s) could not be read: the work they record could "
                      "not be verified (a run killed mid-write leaves one; check those files by hand).[/]",
                      highlight=False)
    if report.journal_error:
        console.print(f"[yellow]{escape(printable(report.journal_error))}: undo's progress is not recorded "
                      "(running undo again is harmless).[/]", highlight=False)
    sys.exit(EXIT_OK if report.complete else EXIT_SOME_FAILED)
