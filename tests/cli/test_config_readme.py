"""The README's "Configuration file" section, run as written: its file, its `config show` and its error line."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = README.read_text(encoding="utf-8").split("\n## Configuration file\n")[1].split("\n## ")[0]
EXAMPLE_HOME = "/home/me"


def block(kind: str) -> str:
    """The section's first fenced block of ``kind`` (``toml``, ``console``, ``text``)."""
    found = re.search(rf"^```{kind}\n(.*?)^```", SECTION, re.MULTILINE | re.DOTALL)
    assert found is not None, kind
    return found.group(1)


def run_in(home: Path, command_line: str) -> subprocess.CompletedProcess[str]:
    """``command_line`` (starting with imgtwin) with ``home`` as HOME and the standard places beneath it."""
    env = {**os.environ, "HOME": str(home)}
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "IMGTWIN_CONFIG", "IMGTWIN_DB"):
        env.pop(name, None)
    words = shlex.split(command_line)
    assert words[0] == "imgtwin"
    return subprocess.run([sys.executable, "-m", "imgtwin", *words[1:]], env=env, capture_output=True, text=True,
                          check=False, timeout=120, cwd=home)


def rows(text: str) -> list[tuple[str, ...]]:
    """Lines as their columns (two spaces or more apart), so alignment does not count."""
    return [tuple(re.split(r"\s{2,}", line.strip())) for line in text.splitlines()]


def installed_example(tmp_path: Path, change: tuple[str, str] = ("", "")) -> Path:
    home = tmp_path / "home"
    (home / "Pictures" / "archive").mkdir(parents=True)
    config = home / ".config" / "imgtwin" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(block("toml").replace(*change), encoding="utf-8")
    return home


def test_the_readme_config_show_example_prints_what_it_shows(tmp_path: Path) -> None:
    home = installed_example(tmp_path)
    prompt, *shown = block("console").splitlines()
    done = run_in(home, prompt.removeprefix("$ "))
    assert done.returncode == 0, done.stderr
    printed = rows(done.stdout.replace(str(home), EXAMPLE_HOME))
    expected = [row for row in rows("\n".join(shown)) if row != ("...",)]
    assert [row for row in printed if row in expected] == expected  # every line shown, in order


def test_the_readme_error_example_is_the_line_a_typo_gives(tmp_path: Path) -> None:
    home = installed_example(tmp_path, ('keep = "oldest"', 'kep = "oldest"'))
    done = run_in(home, "imgtwin find Pictures")
    assert done.returncode == 2
    assert done.stderr.replace(str(home), EXAMPLE_HOME) == block("text")
