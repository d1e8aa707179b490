"""``imgtwin config path`` and ``imgtwin config show``, and the group's ``--config``: the file of defaults in use.

The file is read once, by the ``imgtwin`` group before its command parses
its options (``use_settings_file``); its settings become click's
``default_map``, so every option's value has one source click records:
the command line, an environment variable, the file, or the default.
"""

from __future__ import annotations

from pathlib import Path

import click

from imgtwin.cli.common import err_console, fail
from imgtwin.cli.flags import examples
from imgtwin.cli.settings_file import (
    CONFIG_ENV_VAR,
    ConfigFileError,
    Location,
    SettingsFile,
    leaves,
    load,
    locate,
    settable,
    shown,
)
from imgtwin.persistence.location import default_db_path

_LOCATION = "imgtwin.config"  # ctx.meta key (shared by every context of a run): the Location in use

CONFIG_HELP = (f"TOML file of default option values [default: ${CONFIG_ENV_VAR}, else config.toml in the user "
               "config folder: see `imgtwin config path`]. Options given on the command line override it.")


def use_settings_file(ctx: click.Context, given: str | None) -> None:
    """Read the file for the command about to run: its settings become the options' defaults.

    ``config`` commands read it themselves, so that ``config path`` still
    answers when the file is broken.
    """
    location = locate(given)
    ctx.meta[_LOCATION] = location
    if ctx.invoked_subcommand == "config":
        return
    settings = _load_or_fail(location, ctx)
    if settings is not None:
        ctx.default_map = settings.default_map()


def _load_or_fail(location: Location, ctx: click.Context) -> SettingsFile | None:
    root = ctx.find_root().command
    assert isinstance(root, click.Group)
    try:
        return load(location, root)
    except ConfigFileError as exc:
        fail(err_console(), str(exc))


def _location(ctx: click.Context) -> Location:
    found = ctx.meta.get(_LOCATION)
    return found if isinstance(found, Location) else locate(None)


@click.group("config", epilog=examples("imgtwin config path", "imgtwin config show find",
                                       "imgtwin --config team.toml config show dedupe --exclude '*.gif'"))
def config() -> None:
    """Where the configuration file is, and the settings in force with their sources."""


@config.command("path", epilog=examples("imgtwin config path", "imgtwin --config team.toml config path"))
def path() -> None:
    """Print the configuration file in use (on stderr: what named it, and whether it exists)."""
    location = _location(click.get_current_context())
    click.echo(str(location.path))
    state = "exists" if location.path.is_file() else "not found"
    click.echo(f"({location.named_by}; {state})", err=True)


@config.command("show", context_settings={"ignore_unknown_options": True}, epilog=examples(
    "imgtwin config show", "imgtwin config show find", "imgtwin config show find --exclude '*.gif' --keep newest"))
@click.argument("command_line", nargs=-1, type=click.UNPROCESSED, metavar="[COMMAND [OPTIONS]]")
def show(command_line: tuple[str, ...]) -> None:
    """The settings in force for COMMAND run with OPTIONS, and where each comes from.

    Without COMMAND: the settings the file gives each command.
    """
    ctx = click.get_current_context()
    location = _location(ctx)
    settings = _load_or_fail(location, ctx)
    exists = "" if location.path.is_file() else "; not found"
    click.echo(f"config file: {location.path} ({location.named_by}{exists})")
    if not command_line:
        for command_path, found in settings.commands.items() if settings else ():
            click.echo(f"[{'.'.join(command_path)}]")
            _print_rows([(s.key, shown(s.value), s.where(location.path)) for s in found.values()])
        return
    command_path, command, args = _resolve(ctx.find_root().command, command_line)
    _print_rows(_in_force(ctx, command_path, command, args, settings))


def _resolve(root: click.Command, words: tuple[str, ...]) -> tuple[tuple[str, ...], click.Command, list[str]]:
    """The command named by the first words (``index info``) and the options after them."""
    command, command_path, rest = root, list[str](), list(words)
    while isinstance(command, click.Group) and rest:
        name = rest.pop(0)
        command_path.append(name)
        sub = command.commands.get(name)
        if sub is None:
            raise click.UsageError(f"no command {' '.join(command_path)}")
        command = sub
    if isinstance(command, click.Group):
        names = ", ".join(" ".join((*command_path, *below)) for below, _ in leaves(command))
        raise click.UsageError(f"name a command: {names}")
    return tuple(command_path), command, rest


def _in_force(ctx: click.Context, command_path: tuple[str, ...], command: click.Command, args: list[str],
              settings: SettingsFile | None) -> list[tuple[str, str, str]]:
    """(key, value, source) of every option the file may set, as ``command`` would see them with ``args``."""
    from_file = settings.commands.get(command_path, {}) if settings else {}
    # the defaults as the command would take them (resilient: its required arguments are not asked for) ...
    sub = command.make_context(" ".join(command_path), [], parent=ctx.find_root(), resilient_parsing=True,
                               default_map={name: setting.value for name, setting in from_file.items()})
    sub.resilient_parsing = False  # ... then the options given, where an unknown or bad one is a usage error
    given, _, _ = command.make_parser(sub).parse_args(list(args))
    rows = []
    for key, param in settable(command).items():
        name = param.name or key
        value = sub.params.get(name)
        source = sub.get_parameter_source(name)
        if name in given:
            value, where = param.process_value(sub, given[name]), "command line"
        elif source is click.core.ParameterSource.ENVIRONMENT:
            where = f"${param.envvar}"
        elif source is click.core.ParameterSource.DEFAULT_MAP:
            where = from_file[name].where(Path(settings.path if settings else ""))
        else:
            where = "default"
        if key == "db" and value is None:
            value, where = default_db_path(), "default (the user cache folder)"
        rows.append((key, shown(value), where))
    return rows


def _print_rows(rows: list[tuple[str, str, str]]) -> None:
    if not rows:
        return
    key_width = max(len(key) for key, _, _ in rows)
    value_width = min(max(len(value) for _, value, _ in rows), 40)
    for key, value, where in rows:
        click.echo(f"  {key:<{key_width}}  {value:<{value_width}}  {where}")
