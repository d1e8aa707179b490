"""The ``imgtwin`` command: one module per command, a thin layer over the library.

``common`` holds exit codes, errors and what the click context injects;
``options`` the options several commands share. Commands import those two,
never this package, so there is no cycle.
"""

from __future__ import annotations

import click

from imgtwin._version import __version__
from imgtwin.cli.configuration import CONFIG_HELP, config, use_settings_file
from imgtwin.cli.dedupe import dedupe, undo
from imgtwin.cli.errors import errors
from imgtwin.cli.find import find
from imgtwin.cli.flags import examples
from imgtwin.cli.index import index
from imgtwin.cli.mark import mark
from imgtwin.cli.report import report
from imgtwin.cli.review import review
from imgtwin.cli.scan import scan

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=examples(
    "imgtwin scan ~/Pictures --db photos.db",
    "imgtwin find ~/Pictures --db photos.db --json groups.json",
    "imgtwin dedupe ~/Pictures --db photos.db --action trash          # dry run; add --yes to apply",
))
@click.version_option(__version__, prog_name="imgtwin")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=str), default=None,
              help=CONFIG_HELP)
def main(config_path: str | None) -> None:
    """Find duplicate and near-duplicate images in large photo collections."""
    use_settings_file(click.get_current_context(), config_path)


for command in (scan, find, index, errors, dedupe, undo, report, review, config, mark):
    main.add_command(command)
