"""Options shared by several commands (one definition, one help text)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click


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
    return {"workers": 0, "adaptive_workers": True}


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
