"""Options that `gridres schedule` and `gridres restore` share: the demand profile, the
capacity over time and the rotation groups (one definition, one parser)."""

from __future__ import annotations

from typing import Any

import click

from gridres.errors import UsageError

__all__ = ["profile_option", "capacity_options", "group_options", "derate_values",
           "demand_temperature"]

profile_option = click.option(
    "--profile", metavar="NAME|FILE",
    help="Demand profile: typical, winter, summer, winter-weekday, winter-weekend, "
         "summer-weekday, summer-weekend, flat, or a CSV/Parquet file (time or hour, bus "
         "or class, factor or mw). Default: the static load.")


def capacity_options(command: Any) -> Any:
    """``--derate``, ``--tie`` and ``--import-limit-mw`` (passed as ``derates``, ``ties``,
    ``import_limit_mw``)."""
    command = click.option("--import-limit-mw", type=click.FloatRange(min=0), metavar="MW",
                           help="Limit of the imports through the --tie branches.")(command)
    command = click.option("--tie", "ties", multiple=True, metavar="BRANCH",
                           help="A tie branch to an external supply (repeatable; with "
                                "--import-limit-mw).")(command)
    return click.option("--derate", "derates", multiple=True,
                        metavar="FRACTION|KIND=FRACTION",
                        help="Share of generating capacity unavailable: one fraction, or "
                             "per generator kind or fuel (repeatable, e.g. --derate "
                             "wind=0.7).")(command)


def group_options(command: Any) -> Any:
    """``--groups``, ``--block-h``, ``--groups-file`` and ``--protect`` (passed as
    ``n_groups``, ``block_h``, ``groups_file``, ``protect``)."""
    command = click.option("--protect", type=click.Choice(["feeders", "buses"]),
                           default="feeders", show_default=True,
                           help="Keep on the feeders of critical facilities only, or "
                                "their whole buses.")(command)
    command = click.option("--groups-file", type=click.Path(dir_okay=False), metavar="F",
                           help="Groups from a CSV or Parquet file (bus, group[, "
                                "protected]) instead of forming them.")(command)
    command = click.option("--block-h", type=click.IntRange(min=1, max=24), default=4,
                           show_default=True,
                           help="Off periods are whole blocks of this many hours.")(command)
    return click.option("--groups", "n_groups", type=click.IntRange(min=1), default=6,
                        show_default=True,
                        help="Number of rotation groups (queues); protected groups come "
                             "on top.")(command)


def check_rotation_options(rotation: bool) -> None:
    """Refuse ``--groups``, ``--block-h``, ``--groups-file`` or ``--protect`` given on the
    command line without ``--rotation`` (they would be ignored)."""
    from click.core import ParameterSource

    from gridres.errors import UsageError

    ctx = click.get_current_context()
    given = [f"--{name.replace('_', '-')}" if name != "n_groups" else "--groups"
             for name in ("n_groups", "block_h", "groups_file", "protect")
             if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE]
    if given and not rotation:
        raise UsageError(f"{', '.join(given)}: only with --rotation (the rotating groups); "
                         f"add --rotation or leave {'it' if len(given) == 1 else 'them'} "
                         "out")


def derate_values(values: tuple[str, ...]) -> float | dict[str, float] | None:
    """``--derate`` values: one fraction, or KIND=FRACTION pairs.

    Examples
    --------
    >>> derate_values(("0.2",)), derate_values(("wind=0.7", "solar=0.5"))
    (0.2, {'wind': 0.7, 'solar': 0.5})
    """
    if not values:
        return None
    pairs: dict[str, float] = {}
    for v in values:
        kind, sep, num = v.partition("=")
        try:
            if not sep:
                if len(values) > 1:
                    raise UsageError("--derate: give one fraction, or KIND=FRACTION pairs")
                return float(v)
            pairs[kind.strip()] = float(num)
        except ValueError:
            raise UsageError(f"--derate {v!r}: write a fraction (0.2) or KIND=FRACTION "
                             "(wind=0.7)") from None
    return pairs


def demand_temperature(profile: str | None, outside_c: float | None) -> float | None:
    """The temperature the demand follows: ``--outside-temp-c`` under a built-in shape
    (typical, winter, ...); None (no temperature) for the static load, ``flat`` and a
    profile file, where the option only sets how long homes stay warm."""
    from gridres.deficit import PROFILE_NAMES

    return outside_c if profile in PROFILE_NAMES and profile != "flat" else None
