"""The configuration file: defaults for the commands' options, read from TOML and checked against the CLI itself.

Its keys are the options' own long names (``exclude``, ``keep``, ``min-size``,
``workers``), so there is one vocabulary: a key at the top level is a default
for every command that has that option, a key in a ``[find]`` table for
``find`` only (``[index.info]`` for a subcommand), and the nearer table wins.
The result is a click ``default_map``: a flag on the command line still beats
it, and a repeatable option given there replaces the file's list.

Every key is checked with the option's own type, so a value the command would
refuse is refused here, with the file and the line; an unknown key is an
error (with a "did you mean"), never ignored.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from platformdirs import user_config_path

CONFIG_ENV_VAR = "IMGTWIN_CONFIG"

# Options that say what one run does or writes, never a standing default: outputs, the plan, the go-ahead.
PER_RUN = frozenset({"json", "csv", "html", "format", "output", "from-json", "plan", "journal", "action", "move-to",
                     "copy-to", "yes", "i-understand-delete-is-permanent", "help", "version"})


def standard_config_path() -> Path:
    """Where the file is looked for when neither ``--config`` nor ``$IMGTWIN_CONFIG`` names one.

    ``$XDG_CONFIG_HOME/imgtwin/config.toml`` (``~/.config/imgtwin/...``) on
    Linux, ``~/Library/Application Support/imgtwin/...`` on macOS,
    ``%APPDATA%\\imgtwin\\...`` on Windows: platformdirs' rule, as for the index.
    """
    return user_config_path("imgtwin", appauthor=False, roaming=True) / "config.toml"


@dataclass(frozen=True)
class Location:
    """The file in use and what named it: "--config", "$IMGTWIN_CONFIG" or "the standard place"."""

    path: Path
    named_by: str

    @property
    def required(self) -> bool:
        """A file that was named must exist; the standard place may be empty."""
        return self.named_by != "the standard place"


def locate(given: str | None) -> Location:
    """``--config FILE``, else ``$IMGTWIN_CONFIG``, else the standard place (``~`` expanded)."""
    if given:
        return Location(Path(given).expanduser(), "--config")
    if os.environ.get(CONFIG_ENV_VAR):
        return Location(Path(os.environ[CONFIG_ENV_VAR]).expanduser(), f"${CONFIG_ENV_VAR}")
    return Location(standard_config_path(), "the standard place")


class ConfigFileError(Exception):
    """A file that cannot be used, as one line: the file, the line, what is wrong."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        super().__init__(f"config file {path}" + (f", line {line}" if line else "") + f": {message}")


@dataclass(frozen=True)
class Setting:
    """One option's default from the file: its key, the converted value, and where it was written."""

    key: str
    value: Any
    line: int | None
    table: tuple[str, ...]  # () = the top level, ("find",) = [find]

    def where(self, path: Path) -> str:
        """Its source, in words: ``config file PATH, line 3 [find]``."""
        line = f", line {self.line}" if self.line else ""
        table = f" [{'.'.join(self.table)}]" if self.table else ""
        return f"config file {path}{line}{table}"


@dataclass(frozen=True)
class SettingsFile:
    """The file's settings per command (``("find",)``, ``("index", "info")``) and option name."""

    path: Path
    commands: Mapping[tuple[str, ...], Mapping[str, Setting]]

    def default_map(self) -> dict[str, Any]:
        """The nested ``default_map`` click takes: {command: {option name: value}}."""
        root: dict[str, Any] = {}
        for command_path, settings in self.commands.items():
            table = root
            for name in command_path:
                table = table.setdefault(name, {})
            table.update({name: setting.value for name, setting in settings.items()})
        return root


def option_key(param: click.Parameter) -> str | None:
    """The key of an option in the file: its long name without dashes (``--min-size``: ``min-size``)."""
    if not isinstance(param, click.Option):
        return None
    names = [opt for opt in param.opts if opt.startswith("--")]
    return names[0][2:] if names else None


def settable(command: click.Command) -> dict[str, click.Option]:
    """The options of ``command`` that the file may give defaults for, by key."""
    found = {}
    for param in command.params:
        key = option_key(param)
        if key is not None and key not in PER_RUN and isinstance(param, click.Option):
            found[key] = param
    return found


def leaves(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command below ``command`` that runs (not a group), with its path of names."""
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from leaves(sub, (*path, name))
    else:
        yield path, command


def load(location: Location, root: click.Group) -> SettingsFile | None:
    """The file's settings, checked against ``root``'s commands; None when the standard place has no file."""
    path = location.path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if location.required:
            raise ConfigFileError(path, None, f"no such file (named by {location.named_by})") from None
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(path, None, f"cannot read it: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(path, str(exc), max(len(text.splitlines()), 1)) from None
    reader = _Reader(path, text)
    commands: dict[tuple[str, ...], dict[str, Setting]] = {}
    reader.collect(document, root, (), {}, commands)
    return SettingsFile(path, {name: settings for name, settings in commands.items() if settings})


def _syntax_error(path: Path, message: str, last_line: int) -> ConfigFileError:
    """tomllib's "... (at line 3, column 9)" as "line 3, column 9: not valid TOML: ..."."""
    at = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if at is not None:
        return ConfigFileError(path, int(at.group(1)), f"not valid TOML (column {at.group(2)}): {message[:at.start()]}")
    end = re.search(r"\s*\(at end of document\)$", message)
    if end is not None:
        return ConfigFileError(path, last_line, f"not valid TOML (at the end): {message[:end.start()]}")
    return ConfigFileError(path, None, f"not valid TOML: {message}")


def shown(value: Any) -> str:
    """A value as it is written in the file (``["*.gif"]``, ``"oldest"``, ``true``); nothing: ``-``."""
    if value is None:
        return "-"
    return json.dumps(list(value) if isinstance(value, tuple) else value, ensure_ascii=False)


class _Reader:
    """Walks the TOML tables alongside the command tree, checking and converting every key."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def collect(self, table: Mapping[str, Any], command: click.Command, path: tuple[str, ...],
                inherited: Mapping[str, tuple[Any, tuple[str, ...]]],
                out: dict[tuple[str, ...], dict[str, Setting]]) -> None:
        """Record the settings of every command under ``command``; ``inherited``: outer keys, with their table."""
        subcommands = command.commands if isinstance(command, click.Group) else {}
        keys = {key for _, leaf in leaves(command) for key in settable(leaf)}
        own = dict(inherited)
        for key, value in table.items():
            if key in subcommands:
                if not isinstance(value, dict):
                    raise self.error(path, key, f"'{key}' is a command: its settings go in a [{_dotted(path, key)}] "
                                                "table")
                continue
            if key not in keys:
                raise self.error(path, key, self.unknown(key, path, keys, set(subcommands), isinstance(value, dict)))
            own[key] = (value, path)
        if not subcommands:
            out[path] = {param.name: self.setting(key, own[key], param)
                         for key, param in settable(command).items() if key in own and param.name}
        for name, sub in subcommands.items():
            inner = table.get(name, {})
            self.collect(inner, sub, (*path, name), own, out)

    @staticmethod
    def unknown(key: str, path: tuple[str, ...], keys: set[str], commands: set[str], table: bool) -> str:
        """Why ``key`` is refused, with the nearest known name."""
        where = f" in [{'.'.join(path)}]" if path else ""
        if key in PER_RUN:
            return f"'{key}'{where} is chosen per run: give --{key} on the command line"
        close = difflib.get_close_matches(key, sorted(commands if table else keys), n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        if table:
            return f"unknown table [{_dotted(path, key)}]: no such command{hint}"
        scope = f"{' '.join(path)} has no option --{key}" if path else f"no command has an option --{key}"
        return f"unknown setting '{key}'{where}: {scope}{hint}"

    def setting(self, key: str, given: tuple[Any, tuple[str, ...]], param: click.Option) -> Setting:
        value, table = given
        try:
            converted = self.convert(param, value)
        except click.BadParameter as exc:
            raise self.error(table, key, f"{key} = {shown(value)}: {exc.message}") from None
        return Setting(key, converted, self.line_of((*table, key)), table)

    def convert(self, param: click.Option, value: Any) -> Any:
        """``value`` through the option's own type, after checks that click's lenient conversions skip."""
        if param.multiple:
            if not isinstance(value, list):
                raise click.BadParameter(f"a list is expected, such as [{shown(value)}]")
            return tuple(self.convert_one(param, item) for item in value)
        return self.convert_one(param, value)

    def convert_one(self, param: click.Option, value: Any) -> Any:
        if param.is_bool_flag:
            if not isinstance(value, bool):
                raise click.BadParameter("true or false is expected")
            return value
        if isinstance(value, (bool, list, dict)) or not isinstance(value, (str, int, float)):
            raise click.BadParameter(f"a {param.type.name} is expected, not {_toml_type(value)}")
        if isinstance(value, float) and not isinstance(param.type, click.types.FloatParamType):
            raise click.BadParameter("a whole number is expected")
        if isinstance(value, str) and self.is_path(param):
            value = os.path.abspath(self.path.parent / Path(value).expanduser())  # relative to the file; ~ expanded
        elif isinstance(value, str) and value.startswith("~"):
            value = os.path.expanduser(value)  # a glob under the home folder
        return param.type.convert(value, None, None)

    @staticmethod
    def is_path(param: click.Option) -> bool:
        return isinstance(param.type, click.Path)

    def error(self, table: tuple[str, ...], key: str, message: str) -> ConfigFileError:
        return ConfigFileError(self.path, self.line_of((*table, key)) or self.line_of(table), message)

    def line_of(self, dotted: tuple[str, ...]) -> int | None:
        """The line where ``dotted`` (a table, or a key in one) is written: headers and dotted keys followed."""
        header: tuple[str, ...] = ()
        for number, line in enumerate(self.lines, start=1):
            text = line.strip()
            if text.startswith("["):
                inside = text.lstrip("[").split("]")[0]
                header = _split_key(inside)
                if header == dotted:
                    return number
                continue
            assigned = re.match(r"([^=#]+?)\s*=", text)
            if assigned and (*header, *_split_key(assigned.group(1)))[:len(dotted)] == dotted:
                return number
        return None


def _split_key(text: str) -> tuple[str, ...]:
    """A TOML key as its parts: ``find.keep``, ``"find" . keep`` and ``'find'.keep`` are ("find", "keep")."""
    return tuple(part.strip().strip("\"'") for part in re.findall(r"\"[^\"]*\"|'[^']*'|[^.]+", text))


def _dotted(path: tuple[str, ...], key: str) -> str:
    return ".".join((*path, key))


def _toml_type(value: Any) -> str:
    kinds = {bool: "true/false", list: "a list", dict: "a table", str: "a string", int: "a number", float: "a number"}
    return kinds.get(type(value), f"a {type(value).__name__}")
