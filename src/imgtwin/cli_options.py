"""Options shared by several commands (one definition, one help text)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

THRESHOLD_HELP = (
    "How different two pictures may look, in bits of the 64-bit perceptual hash, to be checked as "
    "duplicates: 0 = identical look only (re-saves, resizes, format changes); 6 (default) = also "
    "re-encodes, light edits, borders, small crops; 10 and up = heavier edits, at the risk of grouping "
    "different shots of one scene. Every candidate is verified on aligned thumbnails."
)


DEEP_HELP = (
    "Also match on local features (keypoints): finds copies that global hashes miss, such as photos "
    "straightened by a few degrees, screenshots of a photo, copies with stickers or captions, crops of "
    "10-30 %% and perspective fixes. Computes what the index lacks (one more decode per image; see the "
    "README for its cost); a crop or screenshot is never kept over the picture it shows."
)


def selection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--threshold``, ``--rotations``, ``--keep``, ``--prefer``, ``--reference``, ``--deep``: how groups are chosen.

    Shared by ``find``, ``dedupe``, ``report`` and ``review`` so that the same
    words select the same groups everywhere.
    """
    from imgtwin.finding import DEFAULT_THRESHOLD
    from imgtwin.matching.keeper import KeeperPolicy

    options = [
        click.option("--threshold", type=click.IntRange(0, 20), default=DEFAULT_THRESHOLD, show_default=True,
                     help=THRESHOLD_HELP),
        click.option("--rotations/--no-rotations", default=True, show_default=True,
                     help="Also find copies rotated by 90/180/270 degrees or mirrored."),
        click.option("--keep", type=click.Choice([p.value for p in KeeperPolicy]), default="best",
                     show_default=True,
                     help="Which file of a group to keep: best = the original (no crop, border, logo or squash, "
                          "full colour, most real pixels, best JPEG quality, camera data, the source of the other "
                          "copies, oldest; see the README); largest, smallest, oldest, newest; prefer-folder = "
                          "files under --prefer first."),
        click.option("--prefer", type=click.Path(file_okay=False, path_type=str), default=None,
                     help="Folder whose files are kept first (with --keep prefer-folder)."),
        click.option("--deep/--no-deep", default=False, show_default=True, help=DEEP_HELP),
    ]
    for option in reversed(options):
        command = option(command)
    return reference_option(command)


def reference_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--reference DIR`` (repeatable): folders of originals that no action ever touches.

    Shared by ``find``, ``report`` and ``dedupe``; the command receives
    ``reference``, a tuple of the folders as given.
    """
    return click.option(
        "--reference", "reference", multiple=True, metavar="DIR",
        type=click.Path(exists=True, file_okay=False, path_type=str),
        help="A folder of originals (repeatable): its files are never acted on, one of them is kept in any "
             "group it appears in, and a group made only of them is left alone.")(command)


def metrics_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--metrics-port`` / ``--metrics-host``, shared by ``scan`` and ``find``."""
    command = click.option(
        "--metrics-host", default="127.0.0.1", show_default=True,
        help="Address the metrics endpoint listens on (0.0.0.0 exposes it to the network).")(command)
    return click.option(
        "--metrics-port", type=click.IntRange(0, 65535), default=None,
        help="Serve Prometheus metrics of the scan at http://HOST:PORT/metrics while it runs.")(command)


class WorkersType(click.ParamType):
    """``--workers``: a count (0 = one per core) or ``auto`` (adapt at run time)."""

    name = "N|auto"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | str:
        if isinstance(value, int) or value == "auto":
            return value  # type: ignore[no-any-return]
        try:
            number = int(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is neither a number nor 'auto'", param, ctx)
        if number < 0:
            self.fail(f"{number} is below 0", param, ctx)
        return number


def workers_settings(workers: int | str, executor: str = "process") -> dict[str, Any]:
    """ScanSettings fields for a ``--workers`` value."""
    if workers != "auto":
        return {"workers": workers}
    if executor != "process":
        raise click.UsageError("--workers auto needs --executor process")
    return {"workers": "auto"}


class SchedulerType(click.ParamType):
    """``--scheduler``: a Dask scheduler address, or ``local:N`` (checked here, before anything starts)."""

    name = "ADDRESS|local:N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from imgtwin.processing.distributed import parse_local  # no Dask import: parsing only

        try:
            parse_local(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return str(value)
