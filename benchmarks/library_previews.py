"""Issue 23, "previews first": imgtwin find against its floor and the peers, on phone/camera libraries.

For each library made by ``../shared/corpus/make_library.py`` (truth.json inside),
with a warm page cache (every file read once first), N rounds (default 2, best
wall time kept), each run a fresh process from an empty index:

* ``imgtwin find`` (previews first, the default) and ``imgtwin find --no-previews``;
* the peers through ``../shared/peers/peer_NAME`` (default imagehash_pool, czkawka);
* the floor (``preview_floor.py``) on the files the default find decoded from the
  main image, and on every main image (the floor of decoding everything).

Every run is scored by ``../shared/corpus/score.py``: precision, near recall, and
the groups that join a file with a foreign thumbnail (an original carrying another
picture's EXIF block, ``transform: original_foreign_thumbnail`` in truth.json) to
a file of another truth group: what trusting a stale or foreign preview costs.
One markdown table per library (wall and CPU seconds, peak RSS of the process tree),
and what imgtwin's index says about the view each file was answered by.  A run that
fails (or passes --timeout) is reported as failed, with its exit status.

    python benchmarks/library_previews.py /tmp/lib-mixed /tmp/lib-iphone [--runs 2] [--peers imagehash_pool,czkawka]

The machine may be shared: the load average is printed before and after each library.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from preview_floor import FloorResult, IndexViews, children_cpu_s, floor, index_views, library_files
from scan_throughput import SHARED, TreeRssSampler, warm_cache

SCORER = SHARED / "corpus" / "score.py"
PEERS = SHARED / "peers"
FOREIGN = "original_foreign_thumbnail"
IMGTWIN_DEFAULT, IMGTWIN_FULL = "imgtwin find (previews)", "imgtwin find --no-previews"
FLOOR_DEFAULT = "floor: previews + the main images the default find decoded"
FLOOR_ALL = "floor: previews + every main image"


@dataclass(frozen=True)
class Outcome:
    """One timed run: wall seconds and peak RSS of its process tree, or why it failed."""

    wall_s: float
    cpu_s: float | None = None
    peak_rss_mb: float | None = None
    document: dict[str, Any] | None = None
    failure: str | None = None


@dataclass(frozen=True)
class Accuracy:
    """What score.py says of a run's groups, and how many groups a foreign thumbnail made."""

    precision: float | None
    near_recall: float | None
    foreign_groups: int


@dataclass(frozen=True)
class Row:
    """One line of a library's table; ``kind`` is ``imgtwin``, ``peer`` or ``floor``."""

    name: str
    kind: str
    outcome: Outcome
    accuracy: Accuracy | None = None


def timed_command(command: Sequence[str], output: Path, ok: Sequence[int] = (0,), timeout_s: float = 1800) -> Outcome:
    """Run ``command`` (which writes the JSON ``output``), timing it and sampling its tree's memory.

    A run past ``timeout_s`` is stopped, with its whole process group (a peer's pool too), and reported as failed.
    """
    output.unlink(missing_ok=True)
    with tempfile.TemporaryFile() as err:
        started, cpu = time.perf_counter(), children_cpu_s()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        with TreeRssSampler(process.pid) as rss:
            try:
                code = process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                return Outcome(time.perf_counter() - started, failure=f"timed out after {timeout_s:g} s")
            wall = time.perf_counter() - started
        # both undercount: RUSAGE_CHILDREN misses workers no one waited for, the sampler each one's last 50 ms
        cpu = max(children_cpu_s() - cpu, rss.cpu_s)
        err.seek(0)
        stderr = err.read().decode(errors="replace").strip()
    if code not in ok or not output.is_file():
        last = stderr.splitlines()[-1] if stderr else "no message"
        return Outcome(wall, failure=f"exit {code}: {last}")
    return Outcome(wall, cpu, rss.peak / 1e6, json.loads(output.read_text(encoding="utf-8")))


def groups_of(document: dict[str, Any], root: Path) -> list[list[str]]:
    """Groups of paths relative to ``root``, from imgtwin's ``find --json`` or a peer's document."""
    base = Path(document.get("base") or root)
    groups = []
    for group in document["groups"]:
        paths = [m["path"] for m in group["members"]] if isinstance(group, dict) else group
        groups.append(
            [unicodedata.normalize("NFC", os.path.relpath(base / p, root)).replace(os.sep, "/") for p in paths]
        )
    return groups


def foreign_preview_groups(groups: Sequence[Sequence[str]], truth: dict[str, dict[str, Any]]) -> int:
    """Groups that join a file with a foreign thumbnail to a file of another truth group."""
    count = 0
    for group in groups:
        known = [truth[p] for p in group if p in truth]
        if any(t["transform"] == FOREIGN for t in known) and len({t["group"] for t in known}) > 1:
            count += 1
    return count


def score(root: Path, groups: list[list[str]], work: Path, name: str) -> Accuracy:
    """Precision and near recall from score.py, and the groups a foreign thumbnail made."""
    prediction = work / f"{name}.prediction.json"
    prediction.write_text(json.dumps({"groups": groups}), encoding="utf-8")
    done = subprocess.run([sys.executable, str(SCORER), str(root / "truth.json"), str(prediction), "--json"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    result = json.loads(done.stdout)["all"]
    truth = json.loads((root / "truth.json").read_text(encoding="utf-8"))
    near = result["per_category"].get("near", {}).get("recall")
    return Accuracy(result["overall"]["precision"], near, foreign_preview_groups(groups, truth))


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render_table(rows: Sequence[Row]) -> str:
    """The markdown table; ratios are to the first floor row and to the fastest peer that succeeded."""
    floors = [r.outcome.wall_s for r in rows if r.kind == "floor" and r.outcome.failure is None]
    peers = [r.outcome.wall_s for r in rows if r.kind == "peer" and r.outcome.failure is None]
    header = "run | wall s | x floor | x fastest peer | precision | near recall | wrong groups by foreign preview | peak RSS MB | CPU s"
    lines = [f"| {header} |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        name, out = row.name, row.outcome
        if out.failure is not None:
            lines.append(f"| {name} | failed ({out.failure.replace('|', '/')}) | - | - | - | - | - | - | - |")
            continue
        acc = row.accuracy
        lines.append(
            f"| {name} | {out.wall_s:.2f} | {_number(out.wall_s / floors[0] if floors else None, 2)} "
            f"| {_number(out.wall_s / min(peers) if peers else None, 2)} "
            f"| {_number(acc.precision if acc else None, 4)} | {_number(acc.near_recall if acc else None, 3)} "
            f"| {acc.foreign_groups if acc else '-'} | {_number(out.peak_rss_mb, 0)} | {_number(out.cpu_s, 1)} |"
        )
    return "\n".join(lines)


def views_line(name: str, views: IndexViews) -> str:
    main = ", ".join(f"{fmt} {n}" for fmt, n in sorted(views.main_by_format.items())) or "none"
    return (
        f"- {name}: {views.previews} files answered by a preview; decoded from the main image: {main}; "
        f"{views.copies} byte copies answered by their twin; {views.errors} errors"
    )


def _best(outcomes: list[Outcome]) -> Outcome:
    good = [o for o in outcomes if o.failure is None]
    return min(good, key=lambda o: o.wall_s) if good else outcomes[0]


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _commands(root: Path, peers: Sequence[str], workers: int) -> dict[str, tuple[str, list[str], tuple[int, ...]]]:
    """name -> (kind, command with {db} and {out} placeholders, exit codes that mean success)."""
    tools: dict[str, tuple[str, list[str], tuple[int, ...]]] = {}
    for name, extra in ((IMGTWIN_DEFAULT, []), (IMGTWIN_FULL, ["--no-previews"])):
        tools[name] = ("imgtwin", [sys.executable, "-m", "imgtwin", "find", str(root), "--json", "{out}", "-q",
                                   "--workers", str(workers), "--db", "{db}", *extra], (0, 1))  # fmt: skip
    for peer in peers:
        tools[f"peer {peer}"] = ("peer", [str(PEERS / f"peer_{peer}"), str(root), "{out}"], (0,))
    return tools


def _floor_plan(files: list[str], default: IndexViews | None) -> dict[str, Sequence[str] | None]:
    """The two floors and the files each decodes from the main image (None: the default find made no index)."""
    return {FLOOR_DEFAULT: default.main if default else None, FLOOR_ALL: files}


def _floor_rows(results: dict[str, list[FloorResult]]) -> tuple[list[Row], list[str]]:
    """The floors' rows (best run of each) and their notes."""
    rows, notes = [], []
    for name in (FLOOR_DEFAULT, FLOOR_ALL):
        if not results.get(name):
            notes.append(f"- {name}: not run (the default find made no index)")
            continue
        best = min(results[name], key=lambda r: r.seconds)
        rows.append(Row(name, "floor", Outcome(best.seconds, best.cpu_s)))
        notes.append(f"- {name}: {best.previews} previews and {best.main_decoded} main images decoded, "
                     f"{best.failed} files failed")  # fmt: skip
    return rows, notes


def bench_library(root: Path, runs: int, peers: Sequence[str], workers: int, timeout_s: float = 1800) -> str:
    """One library's table (markdown, with its notes)."""
    files = library_files(root)
    warm_cache(files)
    load_before = _load()
    tools = _commands(root, peers, workers)
    with tempfile.TemporaryDirectory(prefix="library-previews-") as tmp:
        work = Path(tmp)
        outcomes: dict[str, list[Outcome]] = {name: [] for name in tools}
        views: dict[str, IndexViews] = {}
        floors: dict[str, list[FloorResult]] = {}
        for round_ in range(runs):
            for k, (name, (_, template, ok)) in enumerate(tools.items()):
                db, out = work / f"{k}.{round_}.db", work / f"{k}.{round_}.json"
                command = [str(db) if a == "{db}" else str(out) if a == "{out}" else a for a in template]
                outcomes[name].append(timed_command(command, out, ok, timeout_s))
                if "{db}" in template and outcomes[name][-1].failure is None and name not in views:
                    views[name] = index_views(db)
            for name, main in _floor_plan(files, views.get(IMGTWIN_DEFAULT)).items():
                if main is not None:  # in the same rounds as the tools: a busy spell on a shared machine hits all
                    floors.setdefault(name, []).append(floor(files, main))
        rows = []
        for k, (name, (kind, _, _)) in enumerate(tools.items()):
            best = _best(outcomes[name])
            accuracy = None if best.document is None else score(root, groups_of(best.document, root), work, str(k))
            rows.append(Row(name, kind, best, accuracy))
    floor_rows, floor_notes = _floor_rows(floors)
    truth = json.loads((root / "truth.json").read_text(encoding="utf-8"))
    heic = sum(rel.lower().endswith(".heic") for rel in truth)
    foreign = sum(t["transform"] == FOREIGN for t in truth.values())
    head = (
        f"### {root} ({len(truth)} files, {heic} HEIC, {foreign} with a foreign thumbnail)\n\n"
        f"Best wall time of {runs} rounds, warm page cache, each find from an empty index. "
        f"Load average before: {load_before}; after: {_load()} ({os.cpu_count()} cores).\n"
    )
    notes = [views_line(name, v) for name, v in views.items()] or ["- imgtwin made no index (its runs failed)"]
    return "\n".join([head, render_table(floor_rows + rows), "", *floor_notes, *notes])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("libraries", type=Path, nargs="+", help="folders made by make_library.py")
    parser.add_argument("--runs", type=int, default=2, help="rounds; the best wall time is kept (default 2)")
    parser.add_argument("--peers", default="imagehash_pool,czkawka", help="comma-separated peer names ('' = none)")
    parser.add_argument("--workers", type=int, default=0, help="imgtwin find --workers (0 = one per core)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one run may take (default 1800)")
    args = parser.parse_args()
    peers = [p for p in args.peers.split(",") if p]
    for root in args.libraries:
        if not (root / "truth.json").is_file():
            sys.exit(f"library_previews: {root}/truth.json not found (not a library from make_library.py)")
    for peer in peers:
        if not (PEERS / f"peer_{peer}").is_file():
            sys.exit(f"library_previews: no peer wrapper {PEERS}/peer_{peer}")
    for root in args.libraries:
        print(bench_library(root.resolve(), max(1, args.runs), peers, args.workers, args.timeout), flush=True)
        print()


if __name__ == "__main__":
    main()
