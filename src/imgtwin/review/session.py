"""One review session: the scan, the groups shown, and the apply and undo runs, one job at a time.

Jobs run in a background thread, one at a time, because each of them reads
or changes the same files: a scan while files are being trashed would index a
half-changed tree. After an apply or an undo the folders are scanned again
(files the index knows are not read again), so the groups always show the
tree as it is. Every change of state is published to the page as an event.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from imgtwin.actions import ActionKind, ItemOutcome, UndoOutcome, apply_plan, preview_plan, read_journal, undo_journal
from imgtwin.actions.journal import default_journal_path
from imgtwin.marking import MarkError, mark_not_duplicates
from imgtwin.persistence.lock import IndexBusyError
from imgtwin.reporting.text import printable
from imgtwin.review.acting import (
    DecisionError,
    Decisions,
    ReviewGroups,
    RunCatalog,
    build_plan,
    parse_apart,
    parse_decisions,
)
from imgtwin.review.catalog import FileCatalog
from imgtwin.review.choices import ReviewChoices
from imgtwin.review.events import EventHub
from imgtwin.review.finder import Finder, FoundGroups
from imgtwin.review.progress import PageProgressReporter

IDLE, SCANNING, GROUPING, READY, FAILED = "idle", "scanning", "grouping", "ready", "failed"


class Busy(Exception):
    """Another job runs: the request must wait for it (HTTP 409)."""


@dataclass
class Job:
    """An apply or undo run, with every file's outcome so far."""

    id: int
    kind: str  # apply | undo
    action: str
    cancel: threading.Event = field(default_factory=threading.Event)
    status: str = "running"  # running | finished | stopped | failed
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    bytes: int = 0
    total: int = 0  # files in the plan (apply) or actions in the journal (undo)
    journal: str | None = None
    run_id: str | None = None
    message: str = ""
    refused: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "action": self.action, "status": self.status,
                "counts": dict(self.counts), "bytes": self.bytes, "outcomes": len(self.outcomes), "total": self.total,
                "journal": printable(self.journal) if self.journal else None, "run_id": self.run_id,
                "message": self.message, "refused": self.refused[:50]}


class ReviewSession:
    """The server's state; its methods are called from request handlers (any thread)."""

    def __init__(
        self,
        finder: Finder,
        hub: EventHub,
        catalog: FileCatalog,
        workdir: str,
        *,
        db_path: str | None = None,
        runs: RunCatalog | None = None,
        journal_path: Callable[[str], str] = default_journal_path,
    ) -> None:
        from imgtwin.review.acting import journal_dir

        self.finder = finder
        self.hub = hub
        self.catalog = catalog
        self.workdir = workdir
        self.db_path = db_path
        self.choices = ReviewChoices(db_path)  # the keepers chosen and files unticked, kept in the index
        self.runs = runs or RunCatalog(journal_dir(), finder.roots)
        self.journal_path = journal_path
        self.roots = finder.roots
        self.reference = finder.reference
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._busy: str | None = None
        self._cancel: threading.Event | None = None
        self._closing = False
        self.phase = IDLE
        self.message = ""
        self.progress: PageProgressReporter | None = None
        self.last_scan: dict[str, Any] | None = None
        self.groups = ReviewGroups(0, _empty_document(), (), ())
        self.jobs: dict[int, Job] = {}
        self._encoded: tuple[int, dict[str, bytes]] = (-1, {})
        self.job: Job | None = None

    # ---- jobs -------------------------------------------------------------------------------

    def _start(self, kind: str, target: Callable[[threading.Event], None]) -> threading.Event:
        with self._lock:
            if self._closing:
                raise Busy("the server is stopping")
            if self._busy is not None:
                raise Busy(f"wait for the {self._busy} to finish")
            self._busy = kind
            cancel = self._cancel = threading.Event()

        def run() -> None:
            try:
                target(cancel)
            finally:
                with self._lock:
                    self._busy = None
                    self._cancel = None
                self.hub.publish("busy", {"busy": None})

        self._thread = threading.Thread(target=run, name=f"imgtwin-review-{kind}", daemon=True)
        self.hub.publish("busy", {"busy": kind})
        self._thread.start()
        return cancel

    @property
    def busy(self) -> str | None:
        return self._busy

    def start_scan(self) -> None:
        self._start("scan", self._scan_and_group)

    def stop(self, everything: bool = False) -> bool:
        """Asks the running job to stop: an apply or undo after the file in hand (the rescan after it
        still runs), a scan after the files in flight; ``everything``: both (the server is stopping)."""
        with self._lock:
            cancel = self._cancel
        if cancel is None:
            return False
        job = self.job
        if job is not None and job.status == "running":
            job.cancel.set()
            if not everything:
                return True
        cancel.set()
        return True

    def close(self, timeout: float = 60.0) -> None:
        """Stop the job in hand and wait for it: the index and the journal are left complete."""
        with self._lock:
            self._closing = True
        self.stop(everything=True)
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _set_phase(self, phase: str, message: str = "") -> None:
        self.phase, self.message = phase, message
        self.hub.publish("phase", {"phase": phase, "message": message})

    def _scan_and_group(self, cancel: threading.Event) -> None:
        progress = PageProgressReporter(self.hub)
        self.progress = progress
        self._set_phase(SCANNING)
        try:
            summary = self.finder.scan(progress, cancel)
            if self._closing:
                return
            if summary is not None:
                self.last_scan = {"hashed": summary.processed_files, "errors": summary.error_count,
                                  "skipped": summary.skipped, "reused": summary.reused,
                                  "seconds": round(summary.total_processing_time_ms / 1000, 1),
                                  "cancelled": summary.cancelled}
            self._set_phase(GROUPING)
            found = self.finder.group()
        except IndexBusyError as exc:
            self._set_phase(FAILED, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - shown on the page as one line; the server goes on
            self._set_phase(FAILED, f"{type(exc).__name__}: {exc}")
            return
        self.install(found)
        stopped = " (scan stopped: these groups cover the files hashed so far)" if cancel.is_set() else ""
        self._set_phase(READY, stopped.strip(" ()"))

    def install(self, found: FoundGroups) -> None:
        """Shows ``found``: new ids in the catalog, a new version for the page."""
        self.catalog.replace(f for group in found.files for f in group)
        ids = tuple(tuple(self.catalog.file_id(f.path) for f in group) for group in found.files)
        groups = ReviewGroups(self.groups.version + 1, found.document, found.files, ids, found.notes)
        encoded = {"review": _json_bytes(_review_data(groups)), "groups": _json_bytes(groups.document)}
        self.groups, self._encoded = groups, (groups.version, encoded)  # encoded here, not per request
        self.hub.publish("groups", {"version": groups.version, "groups": len(found.files)})

    # ---- remembered decisions -----------------------------------------------------------------

    def mark_apart(self, body: Any) -> dict[str, Any]:
        """Records that a group, or some of its members, are not duplicates (in the index: ``imgtwin mark``),
        then groups again, so the page gets groups without them (and so does every later find)."""
        if self.db_path is None:
            raise DecisionError("this session has no index to keep decisions in", 409)
        if self._busy is not None:
            raise Busy(f"wait for the {self._busy} to finish")
        paths, only = parse_apart(body, self.groups)
        try:
            pairs, new = mark_not_duplicates(self.db_path, paths, only)
        except MarkError as exc:  # a member gone or unreadable since it was grouped
            raise DecisionError(str(exc), 409) from None
        try:
            self._start("scan", self._scan_and_group)
        except Busy:
            pass  # a job started meanwhile: its rescan groups with the decision
        return {"pairs": pairs, "new": new}

    # ---- acting -----------------------------------------------------------------------------

    def _decisions(self, body: Any, applying: bool = True) -> tuple[Decisions, ReviewGroups]:
        groups = self.groups
        return self.choices.honour(parse_decisions(body, groups, self.roots, applying=applying), groups), groups

    def _plan(self, decisions: Decisions, groups: ReviewGroups) -> Any:
        if self.db_path is None:
            raise DecisionError("this session has no index to check files against", 409)
        return build_plan(groups, decisions, roots=self.roots, db_path=self.db_path, reference=self.reference)

    def preview(self, body: Any) -> dict[str, Any]:
        """The dry run of the page's decisions: what would happen to each file, nothing changed."""
        if self._busy in ("apply", "undo"):
            raise Busy(f"wait for the {self._busy} to finish")
        decisions, groups = self._decisions(body, applying=False)
        report = preview_plan(self._plan(decisions, groups))
        reasons = Counter(o.reason for o in report.outcomes if o.status == "skipped")
        return {"action": decisions.action.value, "would": report.count("would"),
                "skipped": report.count("skipped"), "unchanged": report.count("unchanged"),
                "refused": [r.reason for r in report.plan.refused], "bytes": report.bytes,
                "groups": len(decisions.groups), "reasons": reasons.most_common(10),
                "move_to": printable(decisions.move_to) if decisions.move_to else None}

    def start_apply(self, body: Any) -> Job:
        decisions, groups = self._decisions(body)  # refused at once, before any thread starts
        job = self._new_job("apply", decisions.action.value)

        def run(cancel: threading.Event) -> None:
            self._apply(job, decisions, groups)
            self._refresh(cancel)

        try:
            self._start("apply", run)
        except Busy:  # another job started in between
            self._drop(job)
            raise
        return job

    def _new_job(self, kind: str, action: str) -> Job:
        if self._busy is not None:
            raise Busy(f"wait for the {self._busy} to finish")
        job = Job(len(self.jobs) + 1, kind, action)
        self.jobs[job.id] = job
        self.job = job
        return job

    def _apply(self, job: Job, decisions: Decisions, groups: ReviewGroups) -> None:
        ids = {f.path: i for group, fids in zip(groups.files, groups.ids) for f, i in zip(group, fids)}
        self.hub.publish("job", job.summary())
        try:
            plan = self._plan(decisions, groups)
            job.refused = [r.reason for r in plan.refused]
            job.journal = self.journal_path(plan.action.value)
            job.total = len(plan.items)
            self.hub.publish("job", job.summary())

            def on_item(outcome: ItemOutcome) -> None:
                entry = {"job": job.id, "n": len(job.outcomes), "group": outcome.item.group_id,
                         "file": ids.get(outcome.item.path), "path": printable(outcome.item.path),
                         "size": outcome.item.file.size,
                         "status": outcome.status, "reason": outcome.reason,
                         "detail": printable(outcome.detail) if outcome.detail else None}
                job.outcomes.append(entry)
                job.counts[outcome.status] += 1
                if outcome.status == "done":
                    job.bytes += outcome.item.file.size
                self.hub.publish("outcome", entry)

            report = apply_plan(plan, job.journal, on_item=on_item, cancel=job.cancel,
                                allow_delete=plan.action is ActionKind.DELETE)
            job.run_id = str(read_journal(job.journal).header.get("run_id"))
            job.status = "stopped" if report.cancelled else "finished"
        except Exception as exc:  # noqa: BLE001 - reported on the page; the journal says what was done
            job.status, job.message = "failed", f"{type(exc).__name__}: {exc}"
        self.hub.publish("job", job.summary())
        self.hub.publish("runs", {})

    def start_undo(self, run_id: str) -> Job:
        run = self.runs.find(run_id)
        if run is None:
            raise DecisionError(f"no run {run_id!r} for these folders", 404)
        if not run.undoable:
            raise DecisionError("that run has nothing left to undo" if run.action != "delete"
                                else "deleted files cannot be brought back")
        job = self._new_job("undo", run.action)
        job.journal, job.run_id = run.journal, run.run_id

        def run_undo(cancel: threading.Event) -> None:
            self._undo(job)
            self._refresh(cancel)

        try:
            self._start("undo", run_undo)
        except Busy:
            self._drop(job)
            raise
        return job

    def _drop(self, job: Job) -> None:
        del self.jobs[job.id]
        self.job = self.jobs[max(self.jobs)] if self.jobs else None

    def _undo(self, job: Job) -> None:
        assert job.journal is not None
        groups = self.groups
        ids = {f.path: i for group, fids in zip(groups.files, groups.ids) for f, i in zip(group, fids)}
        self.hub.publish("job", job.summary())

        def on_item(outcome: UndoOutcome) -> None:
            entry = {"job": job.id, "n": len(job.outcomes), "file": ids.get(outcome.path),
                     "path": printable(outcome.path), "status": outcome.status, "reason": outcome.reason}
            job.outcomes.append(entry)
            job.counts[outcome.status] += 1
            self.hub.publish("outcome", entry)

        try:
            job.total = len(read_journal(job.journal).entries)
            self.hub.publish("job", job.summary())
            report = undo_journal(job.journal, on_item=on_item)
            job.status = "finished" if report.complete else "incomplete"
        except Exception as exc:  # noqa: BLE001
            job.status, job.message = "failed", f"{type(exc).__name__}: {exc}"
        self.hub.publish("job", job.summary())
        self.hub.publish("runs", {})

    def _refresh(self, cancel: threading.Event) -> None:
        """Scan again after files changed, unless the server is stopping."""
        if self._closing:
            return
        with self._lock:
            self._busy = "scan"
        self.hub.publish("busy", {"busy": "scan"})
        self._scan_and_group(cancel)

    # ---- what the page reads ----------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        event_id = self.hub.last_id  # first: the page replays events after it, so it misses none
        progress = self.progress.snapshot() if self.progress is not None else None
        return {
            "event_id": event_id,
            "roots": [printable(r) for r in self.roots],
            "phase": self.phase,
            "message": self.message,
            "busy": self._busy,
            "progress": progress,
            "last_scan": self.last_scan,
            "version": self.groups.version,
            "notes": list(self.groups.notes),
            "job": self.job.summary() if self.job is not None else None,
        }

    def encoded(self, kind: str) -> bytes:
        """The current groups as JSON: ``groups`` (the find --json document) or ``review`` (with the ids)."""
        version, encoded = self._encoded
        if version != self.groups.version:  # only before the first scan ends
            return _json_bytes(_review_data(self.groups) if kind == "review" else self.groups.document)
        return encoded[kind]


def _review_data(groups: ReviewGroups) -> dict[str, Any]:
    return {"version": groups.version, "document": groups.document, "ids": groups.ids, "notes": list(groups.notes)}


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8", "surrogateescape")


def _empty_document() -> dict[str, Any]:
    from imgtwin.reporting.groups import groups_document

    return groups_document((), (), 0, True)

