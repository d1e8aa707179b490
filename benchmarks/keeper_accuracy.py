"""Keeper accuracy: does ``imgtwin find`` keep the original?

Runs the real command (scan into an index, then ``find --json``) on a corpus
made by ``../shared/corpus/make_corpus.py`` and compares every group's keeper
with the corpus truth. Of the groups found that hold an original, a keeper is
right when it is the original or a copy of equal quality: a byte copy, the
same pixels in a lossless format (PNG, BMP, TIFF, lossless WebP), or the same
pixels under another EXIF orientation tag. For each transform, the table says
how often a copy made by it was kept instead of its original. Then the calibration
of "keeper uncertain": of the groups marked certain (``keeper_confidence`` high)
and of those marked uncertain, how many keep a wrong file, and per rule that
chose the keeper (``keeper_rule``), how many groups it decided and how many wrongly.
Works on ``make_library.py`` libraries too (their truth has the same fields).

    python benchmarks/keeper_accuracy.py --corpus /tmp/corpus-medium [--db /tmp/medium.db] [--keep best]
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
from pathlib import Path

EQUAL_QUALITY = {"exact_copy", "format_png", "format_bmp", "format_tiff", "exif_orientation"}


def equal_quality(record: dict) -> bool:
    if record["kind"] == "original" or record["transform"] in EQUAL_QUALITY:
        return True
    return record["transform"] == "format_webp" and "lossless" in record.get("detail", "")


def run_find(corpus: Path, db: Path, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "find.json"
        done = subprocess.run([sys.executable, "-m", "imgtwin", "find", str(corpus), "--db", str(db), "--json",
                               str(out), "-q", *extra], capture_output=True, text=True, check=False)
        if done.returncode not in (0, 1):
            raise SystemExit(done.stderr)
        return json.loads(out.read_text())


def keeper_table(document: dict, corpus: Path, truth: dict) -> tuple[int, int, collections.Counter, collections.Counter,
                                                                       list[tuple[str, str, str]]]:
    """Right keepers, judged groups, per transform the groups it was kept wrongly in and those holding it,
    and the wrong keepers; each judged group gets ``"_wrong"`` (True or False) for ``calibration``."""
    right = 0
    judged = 0
    stolen: collections.Counter[str] = collections.Counter()  # transform -> groups where it was kept wrongly
    present: collections.Counter[str] = collections.Counter()  # transform -> groups holding it and the original
    wrong = []
    for group in document["groups"]:
        records = []
        for member in group["members"]:
            rel = str(Path(member["path"]).resolve().relative_to(corpus.resolve()))
            records.append((rel, truth[rel], member["keep"]))
        originals = {r["group"] for _, r, _ in records if r["kind"] == "original"}
        if not originals:
            continue
        judged += 1
        keeper_rel, keeper, _ = next(x for x in records if x[2])
        for _, record, _ in records:
            if record["kind"] == "variant" and record["group"] in originals:
                present[record["transform"]] += 1
        group["_wrong"] = not (keeper["group"] in originals and equal_quality(keeper))
        if not group["_wrong"]:
            right += 1
        else:
            stolen[keeper["transform"]] += 1
            original = next(rel for rel, r, _ in records if r["kind"] == "original")
            wrong.append((keeper["transform"], keeper_rel, original))
    return right, judged, stolen, present, wrong


def calibration(document: dict) -> str:
    """Of the judged groups marked certain and uncertain, how many keep a wrong file; and per rule."""
    judged = [g for g in document["groups"] if "_wrong" in g]
    lines = ["\n| keeper marked | groups | wrong keeper | share wrong |", "|---|---|---|---|"]
    for label, mark in (("certain", "high"), ("uncertain", "low")):
        marked = [g for g in judged if g.get("keeper_confidence", "high") == mark]
        wrong = sum(g["_wrong"] for g in marked)
        lines.append(f"| {label} | {len(marked)} | {wrong} | {wrong / max(len(marked), 1):.3f} |")
    rules: collections.Counter[tuple[str, str]] = collections.Counter()
    wrong_rules: collections.Counter[tuple[str, str]] = collections.Counter()
    for g in judged:
        key = (g.get("keeper_rule", "?"), g.get("keeper_confidence", "high"))
        rules[key] += 1
        wrong_rules[key] += g["_wrong"]
    lines += ["\n| rule (confidence) | groups | wrong keeper |", "|---|---|---|"]
    lines += [f"| {rule} ({mark}) | {n} | {wrong_rules[(rule, mark)]} |"
              for (rule, mark), n in sorted(rules.items(), key=lambda item: -item[1])]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("/tmp/corpus-medium"))
    parser.add_argument("--db", type=Path, help="index to (re)use; default: a fresh one")
    parser.add_argument("--show", type=int, default=0, help="print this many wrong keepers per transform")
    parser.add_argument("find_args", nargs="*", help="extra arguments for find (after --)")
    args = parser.parse_args()
    truth = json.loads((args.corpus / "truth.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "index.db"
        document = run_find(args.corpus, db, args.find_args)
    right, judged, stolen, present, wrong = keeper_table(document, args.corpus, truth)
    low = sum(g.get("keeper_confidence") == "low" for g in document["groups"])
    print(f"{args.corpus.name}: {len(truth)} files, {len(document['groups'])} groups, {judged} holding an original\n")
    print(f"**keeper accuracy {right / max(judged, 1):.3f}** ({right} of {judged}); groups marked low confidence: {low}\n")
    print("| transform | groups holding it | kept instead of the original | share |")
    print("|---|---|---|---|")
    for name in sorted(present, key=lambda n: (-stolen[n], n)):
        share = stolen[name] / present[name] if present[name] else 0.0
        print(f"| {name} | {present[name]} | {stolen[name]} | {share:.2f} |")
    print(calibration(document))
    if args.show:
        shown: collections.Counter[str] = collections.Counter()
        for transform, keeper, original in wrong:
            if shown[transform] < args.show:
                shown[transform] += 1
                print(f"  {transform}: kept {keeper}  (original {original})")


if __name__ == "__main__":
    main()
