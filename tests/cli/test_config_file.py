"""The configuration file: its settings are the commands' defaults, flags beat them, a bad file is one line and exit 2.

Real TOML files in tmp_path, the real CLI (click's runner, and a process run with
XDG_CONFIG_HOME pointing at the test's folder), real images made here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from imgtwin.cli import main
from imgtwin.options import SIMILARITY_BITS
from tests.helpers import synthetic_photo


def photos(root: Path) -> Path:
    """An original beside its downscale (keep best: the original; smallest: the downscale), and a byte copy of
    another photo in skip/ and one in other/."""
    (root / "skip").mkdir(parents=True)
    (root / "other").mkdir()
    synthetic_photo(1, (320, 240)).save(root / "a.png")
    synthetic_photo(1, (200, 150)).save(root / "a small.png")
    synthetic_photo(2, (320, 240)).save(root / "b.png")
    (root / "skip" / "b.png").write_bytes((root / "b.png").read_bytes())
    (root / "other" / "b.png").write_bytes((root / "b.png").read_bytes())
    return root


def user_config(home: Path, text: str) -> Path:
    """``text`` as the config file of the standard place under ``home`` (XDG_CONFIG_HOME)."""
    path = home / "imgtwin" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def imgtwin(*args: str, config_home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CONFIG_HOME": str(config_home)}
    env.pop("IMGTWIN_CONFIG", None)
    env.pop("IMGTWIN_DB", None)
    return subprocess.run([sys.executable, "-m", "imgtwin", *args], env=env, capture_output=True, text=True,
                          check=False, timeout=120)


def groups(document: str, root: Path) -> set[tuple[str, frozenset[str]]]:
    """(keeper, all members) of each group of a ``find --json`` document, relative to ``root``."""
    found = set()
    for group in json.loads(document)["groups"]:
        names = [os.path.relpath(m["path"], root) for m in group["members"]]
        keeper = next(os.path.relpath(m["path"], root) for m in group["members"] if m["keep"])
        found.add((keeper, frozenset(names)))
    return found


def test_the_user_config_file_sets_excludes_and_the_keep_policy_of_a_real_find(tmp_path: Path) -> None:
    root = photos(tmp_path / "photos")
    home = tmp_path / "xdg"
    user_config(home, 'exclude = ["*/skip/*"]\nworkers = 1\n\n[find]\nkeep = "smallest"\n')
    done = imgtwin("find", str(root), "--db", str(tmp_path / "i.db"), "--json", "-", "--no-progress",
                   config_home=home)
    assert done.returncode == 0, done.stderr
    assert groups(done.stdout, root) == {("a small.png", frozenset({"a.png", "a small.png"})),
                                         ("b.png", frozenset({"b.png", "other/b.png"}))}  # skip/ left out
    # without the file: every copy, and the best picture kept
    (home / "imgtwin" / "config.toml").unlink()
    done = imgtwin("find", str(root), "--db", str(tmp_path / "i.db"), "--json", "-", "--no-progress",
                   config_home=home)
    assert groups(done.stdout, root) == {("a.png", frozenset({"a.png", "a small.png"})),
                                         ("b.png", frozenset({"b.png", "skip/b.png", "other/b.png"}))}


def test_flags_on_the_command_line_replace_the_files_values(tmp_path: Path) -> None:
    root = photos(tmp_path / "photos")
    home = tmp_path / "xdg"
    user_config(home, 'exclude = ["*/skip/*"]\n[find]\nkeep = "smallest"\n')
    find = ("find", str(root), "--db", str(tmp_path / "i.db"), "--json", "-", "--no-progress")
    done = imgtwin(*find, "--exclude", "*/other/*", config_home=home)
    assert done.returncode == 0, done.stderr
    # --exclude replaced the file's list (skip/ is back, other/ is out); the file's keep still holds
    assert groups(done.stdout, root) == {("a small.png", frozenset({"a.png", "a small.png"})),
                                         ("b.png", frozenset({"b.png", "skip/b.png"}))}
    done = imgtwin(*find, "--keep", "best", config_home=home)
    assert groups(done.stdout, root) == {("a.png", frozenset({"a.png", "a small.png"})),
                                         ("b.png", frozenset({"b.png", "other/b.png"}))}


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv("IMGTWIN_CONFIG", raising=False)
    monkeypatch.delenv("IMGTWIN_DB", raising=False)
    return home


def shown_rows(output: str) -> dict[str, tuple[str, str]]:
    """``config show COMMAND``'s rows: key -> (value, source)."""
    rows = {}
    for line in output.splitlines()[1:]:
        key, value, source = re.fullmatch(r"  (\S+)\s+(\S.*?)\s{2,}(\S.*)", line).groups()  # type: ignore[union-attr]
        rows[key] = (value, source)
    return rows


def test_config_show_says_where_each_setting_comes_from(config_home: Path, tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    path = user_config(config_home, 'exclude = ["*/skip/*"]\nworkers = 2\n\n[dedupe]\nkeep = "oldest"\n'
                                    'reference = ["../../archive"]\n')
    result = CliRunner(env={"IMGTWIN_DB": str(tmp_path / "env.db")}).invoke(
        main, ["config", "show", "dedupe", "DIR", "--workers", "3", "--similarity", "high"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"config file: {path} (the standard place)"
    rows = shown_rows(result.output)
    assert rows["exclude"] == ('["*/skip/*"]', f"config file {path}, line 1")
    assert rows["keep"] == ('"oldest"', f"config file {path}, line 5 [dedupe]")
    assert rows["reference"] == (json.dumps([str(tmp_path / "archive")]), f"config file {path}, line 6 [dedupe]")
    assert rows["workers"] == ("3", "command line")
    assert rows["similarity"] == ('"high"', "command line")
    assert rows["db"] == (json.dumps(str(tmp_path / "env.db")), "$IMGTWIN_DB")
    assert rows["min-size"] == ("-", "default") and rows["rotations"] == ("true", "default")
    assert "action" not in rows and "yes" not in rows  # what one run does is never a standing default


def test_config_file_named_by_option_or_variable_and_config_path(config_home: Path, tmp_path: Path) -> None:
    user_config(config_home, "workers = 2\n")
    named = tmp_path / "team.toml"
    named.write_text("workers = 5\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(main, ["config", "path"])
    assert result.stdout == f"{config_home / 'imgtwin' / 'config.toml'}\n"
    assert "(the standard place; exists)" in result.stderr
    for args, env, source in ((["--config", str(named)], {}, "--config"),
                              ([], {"IMGTWIN_CONFIG": str(named)}, "$IMGTWIN_CONFIG")):
        result = runner.invoke(main, [*args, "config", "show", "scan", "DIR"], env=env)
        assert result.output.splitlines()[0] == f"config file: {named} ({source})"
        assert shown_rows(result.output)["workers"] == ("5", f"config file {named}, line 1")
        assert runner.invoke(main, [*args, "config", "path"], env=env).stdout == f"{named}\n"


def test_a_setting_on_the_command_line_beats_its_rival_in_the_file(config_home: Path, tmp_path: Path) -> None:
    """The file's --similarity gives way to a --threshold typed here (not "give one, not both")."""
    root = photos(tmp_path / "photos")
    user_config(config_home, '[find]\nsimilarity = "high"\n')
    find = ["find", str(root), "--db", str(tmp_path / "i.db"), "--json", "-", "--no-progress"]
    result = CliRunner().invoke(main, find)
    assert json.loads(result.stdout)["threshold"] == SIMILARITY_BITS["high"] != 8
    result = CliRunner().invoke(main, [*find, "--threshold", "8"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["threshold"] == 8


BAD_FILES = [
    ('workers = 2\n[find]\nkeep = "oldest\n', 3, "not valid TOML (column 15): Illegal character"),
    ('workers = 2\n[find]\nexlude = ["*.gif"]\n', 3,
     "unknown setting 'exlude' in [find]: find has no option --exlude (did you mean 'exclude'?)"),
    ('\n[find]\nkeep = "old"\n', 3, "keep = \"old\": 'old' is not one of 'best',"),
    ('exclude = "*.gif"\n', 1, 'exclude = "*.gif": a list is expected, such as ["*.gif"]'),
    ("workers = 2.5\n", 1, "workers = 2.5: a whole number is expected"),
    ("[fnd]\nkeep = 'best'\n", 1, "unknown table [fnd]: no such command (did you mean 'find'?)"),
    ("find.yes = true\n", 1, "'yes' in [find] is chosen per run: give --yes on the command line"),
    ('[dedupe]\nreference = ["/no/such/folder"]\n', 2, "no such reference folder: /no/such/folder"),
]


@pytest.mark.parametrize(("text", "line", "message"), BAD_FILES, ids=[
    "syntax", "unknown key", "bad choice", "not a list", "not a whole number", "unknown table", "per run",
    "missing folder"])
def test_a_bad_file_is_one_line_naming_the_line_and_exit_2(config_home: Path, tmp_path: Path, text: str, line: int,
                                                          message: str) -> None:
    path = user_config(config_home, text)
    result = CliRunner().invoke(main, ["find", str(tmp_path), "--db", str(tmp_path / "i.db")])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"imgtwin: error: config file {path}, line {line}: ")
    assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_a_bad_file_stops_a_real_process_without_a_traceback(tmp_path: Path) -> None:
    home = tmp_path / "xdg"
    path = user_config(home, "workers = 2\n[find]\nkeep = [\n")
    done = imgtwin("find", str(tmp_path), "--db", str(tmp_path / "i.db"), config_home=home)
    assert (done.returncode, done.stdout) == (2, "")
    assert re.fullmatch(rf"imgtwin: error: config file {re.escape(str(path))}, line \d+: not valid TOML.*\n",
                        done.stderr)
    # config path still answers, so that the file can be found and fixed
    assert imgtwin("config", "path", config_home=home).stdout == f"{path}\n"


def test_a_named_file_that_does_not_exist_is_an_error(config_home: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "none.toml"), "errors"])
    assert result.exit_code == 2
    assert result.stderr == f"imgtwin: error: config file {tmp_path / 'none.toml'}: no such file (named by --config)\n"


def found_groups(tmp_path: Path) -> tuple[str, str]:
    """An index and a ``find --json`` document of ``photos`` (made with no configuration file)."""
    root = photos(tmp_path / "photos")
    db, plan = str(tmp_path / "i.db"), str(tmp_path / "groups.json")
    assert CliRunner().invoke(main, ["find", str(root), "--db", db, "--json", plan, "--no-progress"]).exit_code == 0
    return db, plan


def test_dedupe_plan_ignores_the_files_choice_of_groups_but_refuses_a_typed_one(config_home: Path,
                                                                                tmp_path: Path) -> None:
    db, plan = found_groups(tmp_path)
    runner = CliRunner()
    user_config(config_home, 'exclude = ["*/skip/*"]\n[dedupe]\nkeep = "smallest"\n')
    result = runner.invoke(main, ["dedupe", "--plan", plan, "--db", db, "--action", "trash"])
    assert result.exit_code == 0, result.output
    assert "Dry run: 3 file(s) would be trashed" in result.stdout  # the plan's groups, skip/ included
    result = runner.invoke(main, ["dedupe", "--plan", plan, "--db", db, "--action", "trash", "--keep", "newest"])
    assert result.exit_code == 2 and "--keep choose groups, which --plan already holds" in result.stderr


def test_report_from_json_takes_no_index_even_when_the_file_or_the_variable_names_one(config_home: Path,
                                                                                     tmp_path: Path) -> None:
    db, plan = found_groups(tmp_path)
    runner = CliRunner()
    user_config(config_home, f'db = "{db}"\n')
    report = ["report", "--from-json", plan, "--html", str(tmp_path / "page.html"), "-q"]
    for env in ({}, {"IMGTWIN_DB": db}):
        result = runner.invoke(main, report, env=env)
        assert result.exit_code == 0, result.output
    assert runner.invoke(main, [*report, "--db", db]).exit_code == 2  # typed: refused, as before
