"""Options shared by several commands (one definition, one help text, defaults from ``imgtwin.options``)."""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from imgtwin.folders import check_folders
from imgtwin.matching.confirm import MAX_THRESHOLD
from imgtwin.options import SIMILARITIES, SIMILARITY_BITS, MatchOptions, ScanOptions, parse_size
from imgtwin.persistence.location import DB_ENV_VAR

if TYPE_CHECKING:
    _ParamOf = click.ParamType  # generic in click's stubs (8.2+), not subscriptable in click 8.1 at run time
else:
    class _ParamOf:
        def __class_getitem__(cls, item: object) -> type[click.ParamType]:
            return click.ParamType


def db_option(what: str, more: str = "") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--db PATH`` (the command receives ``db_path``): ``what`` the command does with the index, ``more`` after it."""
    return click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=str), default=None,
                        envvar=DB_ENV_VAR, help=f"{what} [default: ${DB_ENV_VAR} or the user cache folder].{more}")


_HIGH, _MEDIUM, _LOW = (SIMILARITY_BITS[word] for word in ("high", "medium", "low"))

THRESHOLD_HELP = (
    "How different two pictures may look, in bits of the 64-bit perceptual hash, to be checked as "
    f"duplicates: {_HIGH} = identical look only (re-saves, resizes, format changes); {_MEDIUM} (default) = also "
    f"re-encodes, light edits, borders, small crops; {_LOW} and up = heavier edits, at the risk of grouping "
    "different shots of one scene. Every candidate is verified on aligned thumbnails. Not with --similarity."
)

SIMILARITY_HELP = (
    f"How alike, in words: exact = byte-identical files only; high = identical look (--threshold {_HIGH}); "
    f"medium = the default (--threshold {_MEDIUM}); low = heavier edits (--threshold {_LOW}). Not with --threshold."
)


DEEP_HELP = (
    "Also match on local features (keypoints): finds copies that global hashes miss, such as photos "
    "straightened by a few degrees, screenshots of a photo, copies with stickers or captions, crops of "
    "10-30 % and perspective fixes. Computes what the index lacks (one more decode per image; see the "
    "README for its cost); a crop or screenshot is never kept over the picture it shows."
)


def selection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--similarity``/``--threshold``, ``--rotations``, ``--keep``, ``--prefer``, ``--prefer-format``,
    ``--reference``, ``--deep``.

    Shared by ``find``, ``dedupe``, ``report`` and ``review`` so that the same
    words select the same groups everywhere. The command receives ``match``,
    the ``options.MatchOptions`` they make (checked here, as usage errors).
    """
    from imgtwin.matching.keeper import KeeperPolicy
    from imgtwin.matching.preferences import parse_formats

    @functools.wraps(command)
    def with_match(*args: Any, similarity: str | None, threshold: int | None, rotations: bool, keep: str,
                   prefer: tuple[str, ...], prefer_format: tuple[str, ...], reference: tuple[str, ...], deep: bool,
                   **kwargs: Any) -> Any:
        if similarity is not None and threshold is not None:
            similarity, threshold = _similarity_or_threshold(similarity, threshold)
        if keep == KeeperPolicy.PREFER_FOLDER.value and not prefer:
            raise click.UsageError("--keep prefer-folder needs --prefer FOLDER")
        try:
            formats = parse_formats(prefer_format)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--prefer-format") from None
        match = MatchOptions(similarity=similarity, threshold=threshold, rotations=rotations,  # type: ignore[arg-type]
                             keep=keep, prefer=prefer, prefer_format=formats, reference=reference, deep=deep)
        return command(*args, match=match, **kwargs)

    options = [
        click.option("--similarity", type=click.Choice(SIMILARITIES), default=None, help=SIMILARITY_HELP),
        click.option("--threshold", type=click.IntRange(0, MAX_THRESHOLD), default=None,
                     help=THRESHOLD_HELP + f" [default: {MatchOptions().bits}]"),
        click.option("--rotations/--no-rotations", default=True, show_default=True,
                     help="Also find copies rotated by 90/180/270 degrees or mirrored."),
        click.option("--keep", type=click.Choice([p.value for p in KeeperPolicy]), default="best",
                     show_default=True,
                     help="Which file of a group to keep: best = the original (no crop, border, logo or squash, "
                          "full colour, most real pixels, best JPEG quality, camera data, the source of the other "
                          "copies, oldest; see the README); largest, smallest, oldest, newest; prefer-folder = "
                          "best, with --prefer."),
        click.option("--prefer", type=click.Path(file_okay=False, path_type=str), multiple=True, metavar="FOLDER",
                     help="Keep files under FOLDER over the other copies (repeatable, in order: --prefer A "
                          "--prefer B keeps A's, then B's, then the rest). Never over a reference folder, nor a "
                          "crop, screenshot or upscale over its source."),
        click.option("--prefer-format", multiple=True, metavar="LIST",
                     help="Formats to keep first, in order, e.g. heic,jpg (a HEIC over the JPEG exported from it) "
                          "or raw,jpg. After --prefer folders; never a crop, screenshot or upscale over its source."),
        click.option("--deep/--no-deep", default=False, show_default=True, help=DEEP_HELP),
    ]
    wrapped: Callable[..., Any] = with_match
    for option in reversed(options):
        wrapped = option(wrapped)
    return reference_option(wrapped)


def given_here(name: str) -> bool:
    """Whether option ``name`` of the running command was typed on its command line, rather than left to an
    environment variable, the configuration file or the default."""
    return click.get_current_context().get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE


def _similarity_or_threshold(similarity: str, threshold: int) -> tuple[str | None, int | None]:
    """Both set: the one given on the command line wins over the configuration file's; both there is an error."""
    if given_here("similarity") == given_here("threshold"):
        where = "" if given_here("similarity") else " (the configuration file sets both: see `imgtwin config show`)"
        raise click.UsageError(f"give --similarity or --threshold, not both{where}")
    return (similarity, None) if given_here("similarity") else (None, threshold)


class SizeType(_ParamOf[int]):
    """``--min-size``/``--max-size``: bytes, or with a unit (``200k``, ``1.5MB``, ``2GiB``)."""

    name = "SIZE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_size(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


# the parameter names of filter_options' options
FILTER_NAMES = ("exclude", "extensions", "min_size", "max_size", "no_recursive", "one_file_system", "no_previews")


def filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--exclude``, ``--ext``, ``--min-size``, ``--max-size``, ``--no-recursive``, ``--one-file-system``,
    and ``--no-previews`` (how files are read).

    Shared by ``scan``, ``find``, ``report``, ``review`` and ``dedupe``: the
    command receives ``options``, the ``ScanOptions`` they make (checked here;
    the command adds its own fields, such as workers, with ``with_fields``), for
    its scan and for the files of the index it compares.
    """

    @functools.wraps(command)
    def with_filters(*args: Any, exclude: tuple[str, ...], extensions: tuple[str, ...], min_size: int | None,
                     max_size: int | None, no_recursive: bool, one_file_system: bool, no_previews: bool,
                     **kwargs: Any) -> Any:
        names = tuple(e.strip() for value in extensions for e in value.split(",") if e.strip(" ."))
        filters = {"exclude": exclude, "extensions": names, "min_size": min_size, "max_size": max_size,
                   "recursive": not no_recursive, "one_file_system": one_file_system, "previews": not no_previews}
        try:
            options = ScanOptions(**filters)  # type: ignore[arg-type]
        except ValueError as exc:
            raise click.UsageError(str(exc).replace("min_size", "--min-size").replace("max_size", "--max-size")
                                   ) from None
        return command(*args, options=options, **kwargs)

    options = [
        click.option("--exclude", multiple=True, metavar="GLOB",
                     help="Leave out files and folders whose absolute path matches GLOB (repeatable; * also "
                          "matches /): '*/.thumbnails/*', '*/Trash/*', '*.gif'. An excluded folder is not entered. Given here, "
                          "it replaces the configuration file's list."),
        click.option("--ext", "extensions", multiple=True, metavar="EXT",
                     help="Only files with these extensions (repeatable or comma-separated, any case): jpg,heic."),
        click.option("--min-size", type=SizeType(), default=None,
                     help="Only files of at least SIZE bytes (units: 200k, 1.5MB, 2GiB)."),
        click.option("--max-size", type=SizeType(), default=None, help="Only files of at most SIZE bytes."),
        click.option("--no-recursive", is_flag=True, help="Only the files directly in DIRS, not in their subfolders."),
        click.option("--one-file-system", is_flag=True,
                     help="Do not enter folders on other file systems (mount points) than their DIRS."),
        click.option("--no-previews", is_flag=True,
                     help="Decode every picture instead of hashing the previews cameras embed (EXIF and HEIF "
                          "thumbnails) first; groups are decided on decoded pictures either way."),
    ]
    wrapped: Callable[..., Any] = with_filters
    for option in reversed(options):
        wrapped = option(wrapped)
    return wrapped


def with_fields(options: ScanOptions, **fields: Any) -> ScanOptions:
    """``options`` with the command's own fields (``--workers``, ``--timeout``...), checked as usage errors."""
    try:
        return dataclasses.replace(options, **fields)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def reference_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--reference DIR`` (repeatable): folders of originals that no action ever touches.

    Shared by ``find``, ``report`` and ``dedupe``; the command receives
    ``reference``, a tuple of the folders as given.
    """
    return click.option(
        "--reference", "reference", multiple=True, metavar="DIR", type=ExistingFolder("reference folder"),
        help="A folder of originals (repeatable): its files are never acted on, one of them is kept in any "
             "group it appears in, and a group made only of them is left alone. Given here, it replaces the "
             "configuration file's list.")(command)


class ExistingFolder(click.Path):
    """A path that must be an existing folder by the API's rule (``folders.check_folders``): a type, not a
    callback, so that a configuration file's value is checked where it is read, with its line."""

    def __init__(self, what: str) -> None:
        super().__init__(path_type=str)
        self.what = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        folder = super().convert(value, param, ctx)
        try:
            check_folders((str(folder),), self.what)
        except OSError as exc:
            self.fail(str(exc), param, ctx)
        return folder


def metrics_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--metrics-port`` / ``--metrics-host``, shared by ``scan`` and ``find``."""
    command = click.option(
        "--metrics-host", default="127.0.0.1", show_default=True,
        help="Address the metrics endpoint listens on (0.0.0.0 exposes it to the network).")(command)
    return click.option(
        "--metrics-port", type=click.IntRange(0, 65535), default=None,
        help="Serve Prometheus metrics of the scan at http://HOST:PORT/metrics while it runs.")(command)


class WorkersType(_ParamOf["int | str"]):
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


WORKERS_HELP = ("Parallel workers; 0 = one per CPU core; auto = adapt the scan to throughput and load "
                "(1 to 2 per core; process executor).")


def workers_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--workers N|auto``, the one declaration ``scan``, ``find``, ``review``, ``dedupe`` and ``report`` share.

    The command receives ``workers``; ``workers_settings`` turns it into ``ScanOptions`` fields.
    """
    return click.option("--workers", type=WorkersType(), default=0, show_default=True, help=WORKERS_HELP)(command)


def workers_settings(workers: int | str, executor: str = "process") -> dict[str, Any]:
    """ScanSettings fields for a ``--workers`` value."""
    if workers != "auto":
        return {"workers": workers}
    if executor != "process":
        raise click.UsageError("--workers auto needs --executor process")
    return {"workers": "auto"}


def no_progress_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--no-progress``, shared by the commands that scan: ``scan``, ``find`` and ``dedupe``."""
    return click.option("--no-progress", is_flag=True,
                        help="No progress bar while scanning (errors and the results are still printed).")(command)


def thumbnail_workers(workers: int | str) -> int:
    """The thumbnail pool's size for a ``--workers`` value (``auto``: one per core, as 0)."""
    return workers if isinstance(workers, int) else 0


class SchedulerType(_ParamOf[str]):
    """``--scheduler``: a Dask scheduler address, or ``local:N`` (checked here, before anything starts)."""

    name = "ADDRESS|local:N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from imgtwin.processing.distributed import parse_local  # no Dask import: parsing only

        try:
            parse_local(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return str(value)


STDOUT = "-"  # an output option's value that means standard output (persistence.atomic.STDOUT)


def check_outputs(**outputs: str | None) -> bool:
    """Usage errors for output options (``json_path="-"``...) before any work; True when one is stdout.

    ``-`` is standard output, for at most one of them; a file's folder must
    exist (a typo in it is not a tree of new folders); ``html`` writes a folder
    of thumbnails beside it, so it must be a file.
    """
    to_stdout = [name for name, path in outputs.items() if path == STDOUT]
    if len(to_stdout) > 1:
        raise click.UsageError(f"only one output can go to stdout (-), not {' and '.join(_flag(n) for n in to_stdout)}")
    if outputs.get("html") == STDOUT:
        raise click.UsageError("--html needs a file name: its thumbnails go in a folder beside it")
    for name, path in outputs.items():
        if path and path != STDOUT:
            folder = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(folder):
                raise click.UsageError(f"no folder {folder} for {_flag(name)} {path}")
    return bool(to_stdout)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def examples(*lines: str) -> str:
    """A command's ``--help`` epilog: example command lines, printed as written (click's ``\\b``)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)
