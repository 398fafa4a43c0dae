"""What every command shares: grid loading, JSON output, stderr console, one error
handler and exit codes (0 ok, 1 runtime error, 2 usage, 65 invalid data, 66 not found)."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from gridres.errors import GridresError
from gridres.io.folder import cannot_write
from gridres.io.jsondoc import jsonable

__all__ = ["console", "stdout", "whole_customers", "grid_argument", "json_option", "force_option",
           "workers_option", "scheduler_option", "emit_json",
           "outside_temp_option", "fleet_options", "place",
           "emit_json_table", "load", "run_cli", "output_file", "output_folder",
           "hold_folder", "read_grid", "fail_option", "failed_elements", "failed_state",
           "cascade_options"]

#: Messages, warnings and progress go to stderr.
console = Console(stderr=True, highlight=False)
#: What a command answers goes to stdout: its tables and results without --json, the one
#: JSON document with --json (:func:`emit_json`).
stdout = Console(highlight=False)

grid_argument = click.argument("grid", metavar="GRID")
json_option = click.option("--json", "as_json", is_flag=True,
                           help="Write one JSON document to stdout.")
force_option = click.option(
    "--force", is_flag=True,
    help="Go beyond the size limits (see README, 'What gridres promises') and write into "
         "an output folder that holds files gridres did not write (they are kept: gridres "
         "never deletes or overwrites a file it did not write).")
workers_option = click.option(
    "--workers", type=click.IntRange(min=1), default=None,
    help="Local worker processes [default: all cores]; ignored with --scheduler. Results "
         "do not depend on it.")
scheduler_option = click.option(
    "--scheduler", metavar="tcp://HOST:PORT",
    help="Run on a Dask distributed cluster (pip install 'gridres[cluster]'; see README, "
         "'Running on a cluster').")


#: Keys of a result document that count customers.
CUSTOMER_KEYS = ("customers_out",)


def whole_customers(doc: Any, known: bool) -> Any:
    """``doc`` with every count of customers (:data:`CUSTOMER_KEYS`, at any depth) a
    whole number, or None where the grid has no customer data
    (:func:`gridres.model.customer_count`)."""
    from gridres.model import customer_count

    if isinstance(doc, dict):
        return {k: (customer_count(v, known) if k in CUSTOMER_KEYS and
                    isinstance(v, int | float) else whole_customers(v, known))
                for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [whole_customers(v, known) for v in doc]
    return doc


def emit_json(doc: Any) -> None:
    """Write one JSON document to stdout."""
    click.echo(json.dumps(jsonable(doc), indent=2))


def emit_json_table(doc: dict[str, Any], key: str, table) -> None:
    """Write one JSON document to stdout: ``doc`` plus ``doc[key]``, the rows of the
    DataFrame ``table`` as objects (one per line), written column-wise by pandas' C
    writer: no Python work per row, so 100,000 rows take a fraction of a second. NaN
    and infinities become null; floats are written with up to 10 decimals, so round
    them to at most that beforehand."""
    head = json.dumps(jsonable({k: v for k, v in doc.items() if k != key}), indent=2)
    rows = table.to_json(orient="records", lines=True, double_precision=10).rstrip("\n")
    body = "[]" if not len(table) else "[\n    " + rows.replace("\n", ",\n    ") + "\n  ]"
    inner = head[1:-1].rstrip()  # the other keys, one per line
    click.echo(f"{{{inner}{',' if inner else ''}\n  {json.dumps(key)}: {body}\n}}")


def read_grid(spec: str):
    """:func:`gridres.io.load_grid` with the hints a command line needs: an empty GRID, a
    folder, a study file given where a grid is asked for."""
    from gridres.errors import GridError, InputNotFound, UsageError
    from gridres.io import load_grid

    if not str(spec).strip():
        raise UsageError("GRID is empty: give a .m or .gpkg file, a bundled grid name "
                         "(gridres grids) or matpower:NAME")
    path = Path(spec)
    if path.suffix.lower() == ".toml" and path.is_file():
        raise GridError(
            f"{spec}: is a study file, not a grid; check it with `gridres check {spec}` "
            f"or run it with `gridres run {spec}`"
        )
    try:
        return load_grid(spec)
    except InputNotFound:
        if path.is_dir():
            raise InputNotFound(
                f"{spec}: is a folder, not a grid; give a .m or .gpkg file, a bundled grid "
                "name (gridres grids) or matpower:NAME (GeoJSON export folders cannot be "
                "read back)"
            ) from None
        raise


def load(spec: str, *, validate: bool = True):
    """Load a grid for a command (see :func:`read_grid`); with ``validate`` (default)
    refuse invalid grids."""
    grid = read_grid(spec)
    if validate:
        from gridres import validate as v

        check = getattr(v, "check_grid", None)
        if check is not None:
            check(grid, strict=True)
    return grid


#: Modes of --cascade-mode (gridres.cascade.MODES; not imported here to keep the CLI's
#: start light).
CASCADE_MODES = ("none", "trip", "redispatch")


def _old_cascade(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """Refuse the old spellings ``--cascade`` (a flag) and ``--cascade MODE``."""
    if value is None:
        return
    from gridres.errors import UsageError

    new = {"": "trip", "off": "none"}.get(value, value)
    if new not in CASCADE_MODES:
        new = "none|trip|redispatch"
    raise UsageError(f"--cascade{' ' + value if value else ''} is no longer an option; write "
                     f"--cascade-mode {new} (with --margin for the overload margin)")


def cascade_options(command: Any) -> Any:
    """The one cascade option of every command: ``--cascade-mode none|trip|redispatch``
    (default none) and ``--margin`` (a fraction, default 0), passed to the command as
    ``cascade_mode`` and ``margin``; the old ``--cascade`` and ``--cascade MODE`` are
    refused with a usage error that names the new spelling."""
    command = click.option("--cascade", "old_cascade", hidden=True, is_flag=False,
                           flag_value="", default=None, expose_value=False,
                           callback=_old_cascade)(command)
    command = click.option(
        "--margin", type=click.FloatRange(min=0), default=0.0, show_default=True,
        help="Overload margin, a fraction: a branch is overloaded (and trips in trip mode) "
             "above rating_mw x (1 + margin); 0.1 = 10 % over.")(command)
    return click.option(
        "--cascade-mode", type=click.Choice(CASCADE_MODES), default="none",
        show_default=True,
        help="What overloads do: none: reported, nothing trips; trip: overloaded branches "
             "trip until none is left; redispatch: generation is redispatched and load "
             "shed at least cost (an LP) before what stays overloaded trips.")(command)


def outside_temp_option(command: Any) -> Any:
    """``--outside-temp-c C``: the outside temperature for how long homes stay warm
    (passed as ``outside_c``; None when not given)."""
    return click.option(
        "--outside-temp-c", "outside_c", type=float, default=None, metavar="C",
        callback=_finite_temp,
        help="Outside temperature in °C: how long homes stay warm without heat supply "
             "and, with --profile, the heating demand  [default: 0 for homes; demand at "
             "the profile's seasonal temperature]")(command)


def _finite_temp(ctx: click.Context, param: click.Parameter, value: float | None) -> Any:
    import math

    from gridres.errors import UsageError

    if value is not None and not math.isfinite(value):
        raise UsageError(f"--outside-temp-c {value}: give a finite temperature in °C")
    return value


def place(text: str) -> str | tuple[float, float]:
    """A depot on the command line: ``X,Y`` coordinates or a bus id."""
    parts = text.split(",")
    if len(parts) == 2:
        try:
            return float(parts[0]), float(parts[1])
        except ValueError:
            pass
    return text


def fleet_options(command: Any) -> Any:
    """Fuel trucks and mobile generators of a restoration (passed as ``fleet``, a dict
    of :class:`gridres.restoration.RestorationSettings` keys), and the outside
    temperature (``outside_c``)."""
    def collect(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        fleet = ctx.params.setdefault("fleet", {})
        if param.name == "fuel_trucks" and value:
            fleet["fuel_trucks"] = value
        elif param.name == "fuel_depots" and value:
            fleet["fuel_depots"] = tuple(place(v) for v in value)
        elif param.name == "fuel_stock_l" and value is not None:
            fleet["fuel_stock_l"] = value
        elif param.name == "mobile_gens" and value:
            fleet["mobile_generators"] = tuple(_mobile(v) for v in value)
        return value

    opts = [
        click.option("--fuel-trucks", type=click.IntRange(min=0), default=0,
                     callback=collect, expose_value=False,
                     help="Fuel trucks that refill backup generators' tanks [default: 0]."),
        click.option("--fuel-depot", "fuel_depots", multiple=True, metavar="BUS|X,Y",
                     callback=collect, expose_value=False,
                     help="Where fuel trucks load (repeatable) [default: the crews' depots]."),
        click.option("--fuel-stock-l", type=float, default=None, metavar="LITRES",
                     callback=collect, expose_value=False,
                     help="Fuel in the depots, litres [default: no limit]."),
        click.option("--mobile-gen", "mobile_gens", multiple=True, metavar="MW[@BUS|@X,Y]",
                     callback=collect, expose_value=False,
                     help="A mobile generator of MW at a depot (repeatable) [default "
                          "depot: the crews' first]."),
    ]
    for opt in reversed(opts):
        command = opt(command)
    return outside_temp_option(command)


def _mobile(text: str) -> tuple[float, Any]:
    from gridres.errors import UsageError

    mw, _, depot = text.partition("@")
    try:
        return float(mw), place(depot) if depot else ""
    except ValueError:
        raise UsageError(f"--mobile-gen {text!r}: write MW or MW@DEPOT (e.g. 2.5@VBS-110)"
                         ) from None


def fail_option(help: str) -> Any:
    """The ``--fail KIND:ID`` option (repeatable), with the given help text."""
    return click.option("--fail", "fails", multiple=True, metavar="KIND:ID", help=help)


@contextlib.contextmanager
def _id_hints(label: str) -> Iterator[None]:
    """Add where to list the ids to an unknown-id error without close matches (a
    substation always gets it); ``label`` names the grid as the user gave it."""
    from gridres.model import UnknownIdError

    try:
        yield
    except UnknownIdError as exc:
        if exc.noun == "substation":
            raise UnknownIdError(f"{exc} (list them with `gridres contingency {label} "
                                 "--elements substation`)", noun=exc.noun,
                                 close=exc.close) from None
        if exc.close:
            raise
        table = {"bus": "buses", "branch": "branches"}.get(exc.noun, "generators")
        raise UnknownIdError(f"{exc}; list them with `gridres info {label} --list {table}`",
                             noun=exc.noun) from None


def failed_elements(grid: Any, fails: tuple[str, ...], label: str) -> tuple[str, ...]:
    """``--fail`` values as element tokens in the order given, a substation as its
    in-service buses (:func:`gridres.elements.expand_tokens`)."""
    from gridres.elements import expand_tokens

    with _id_hints(label):
        return expand_tokens(fails, grid, where="--fail")


def failed_state(grid: Any, fails: tuple[str, ...], label: str) -> Any:
    """The state with the ``--fail`` elements failed
    (:func:`gridres.elements.outage_state`)."""
    from gridres.elements import outage_state

    with _id_hints(label):
        return outage_state(grid, fails, where="--fail")


def output_file(out: str, suffixes: Iterable[str], option: str = "--out") -> Path:
    """Check an output file before any work is done: a known suffix, not a folder, and a
    place that can be written (missing folders are made when writing).

    Parameters
    ----------
    out : str
        The path the user gave.
    suffixes : iterable of str
        Accepted suffixes with their dot, e.g. ``(".csv", ".parquet")``.
    option : str
        The option's name, for messages.

    Raises
    ------
    UsageError
        Naming the path and the fix (exit code 2).
    """
    from gridres.errors import UsageError

    path = Path(out)
    allowed = tuple(suffixes)
    if path.is_dir():
        raise UsageError(f"{option} {out}: is a folder; give a file name such as "
                         f"{path / ('results' + allowed[0])}")
    if path.suffix.lower() not in allowed:
        names = " or ".join(filter(None, (", ".join(allowed[:-1]), allowed[-1])))
        got = f"{path.suffix!r}" if path.suffix else "no suffix"
        raise UsageError(f"{option} {out}: unknown output format ({got}); end the file name "
                         f"in {names}")
    why = cannot_write(path.parent)
    if why:
        raise UsageError(f"{option} {out}: {why}; choose a folder you can write to")
    return path


def output_folder(out: str, option: str = "--out") -> Path:
    """Check an output folder before any work is done: not a file, and writable (it is
    made, with its parents, when writing).

    Raises
    ------
    UsageError
        Naming the path and the fix (exit code 2).
    """
    from gridres.errors import UsageError

    path = Path(out)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {out}: is a file; give a folder (it is made if missing)")
    why = cannot_write(path)
    if why:
        raise UsageError(f"{option} {out}: {why}; choose a folder you can write to")
    return path


def hold_folder(out: str | Path, *, force: bool = False, option: str = "--out") -> Path:
    """Open ``out`` as an output folder (:class:`gridres.io.folder.OutputFolder`) for the
    rest of the command: checked, locked, refused when it holds files gridres did not
    write (unless ``force``); released when the command ends, however it ends."""
    from gridres.io.folder import OutputFolder

    folder = OutputFolder(out, force=force, option=option)
    click.get_current_context().with_resource(folder)
    return folder.path


def _debug_first(args: list[str]) -> tuple[list[str], bool]:
    """Accept ``--debug`` anywhere on the line (``gridres flow x --debug``) by moving it
    before the command, where the group reads it. Only tokens before ``--`` count."""
    end = args.index("--") if "--" in args else len(args)
    head = [a for a in args[:end] if a != "--debug"]
    debug = len(head) < end
    return (["--debug"] if debug else []) + head + args[end:], debug


def run_cli(group: click.Group, argv: list[str] | None = None) -> int:
    """Run the click group with one error handler: a one-line red message on stderr and
    the error's exit code; ``--debug`` (anywhere on the line) shows the traceback."""
    args, debug = _debug_first(list(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        rv = group.main(args=args, prog_name="gridres", standalone_mode=False)
    except click.exceptions.Abort:
        console.print("[red]error:[/red] interrupted")
        return 130
    except click.exceptions.NoArgsIsHelpError as exc:  # bare `gridres`: the help text
        exc.show()
        return exc.exit_code
    except click.ClickException as exc:  # bad options or arguments: one line, like ours
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        message = " ".join(exc.format_message().split()).rstrip(".")  # one line
        console.print("[red]error:[/red] " + _escape(message + hint), soft_wrap=True)
        return exc.exit_code
    except GridresError as exc:
        if debug:
            console.print_exception()
        console.print("[red]error:[/red] " + _escape(str(exc)), soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        console.print("[red]error:[/red] interrupted")
        return 130
    except RecursionError:  # input nested deeper than any reader should follow
        if debug:
            console.print_exception()
        console.print("[red]error:[/red] the input nests lists or tables too deeply to read; "
                      "flatten it (run with --debug for the traceback)", soft_wrap=True)
        return 2
    except OSError as exc:  # a file the system would not read or write
        if debug:
            console.print_exception()
        where = f"{exc.filename}: " if exc.filename else ""
        console.print(f"[red]error:[/red] {_escape(where)}{_escape(exc.strerror or str(exc))} "
                      "(check the path and its permissions; run with --debug for the "
                      "traceback)", soft_wrap=True)
        return 1
    except Exception as exc:  # one handler for everything unexpected
        if debug:
            console.print_exception()
        console.print(f"[red]error:[/red] {_escape(type(exc).__name__)}: {_escape(str(exc))} "
                      "(run with --debug for the traceback)", soft_wrap=True)
        return 1
    return rv if isinstance(rv, int) else 0


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
