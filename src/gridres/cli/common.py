"""What every command shares: grid loading, JSON output, stderr console, one error
handler and exit codes (0 ok, 1 runtime error, 2 usage, 65 invalid data, 66 not found)."""

from __future__ import annotations

import json
import logging
import math
import sys
from typing import Any

import click
import numpy as np
from rich.console import Console

from gridres.errors import GridresError

__all__ = ["console", "grid_argument", "json_option", "emit_json", "load", "run_cli", "jsonable"]

#: Messages, progress and tables go to stderr; stdout is for --json only.
console = Console(stderr=True, highlight=False)

grid_argument = click.argument("grid", metavar="GRID")
json_option = click.option("--json", "as_json", is_flag=True,
                           help="Write one JSON document to stdout.")


def jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays and non-finite floats into JSON-safe values."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def emit_json(doc: Any) -> None:
    """Write one JSON document to stdout."""
    click.echo(json.dumps(jsonable(doc), indent=2))


def load(spec: str, *, validate: bool = True):
    """Load a grid for a command; with ``validate`` (default) refuse invalid grids."""
    from gridres.io import load_grid

    grid = load_grid(spec)
    if validate:
        from gridres import validate as v

        check = getattr(v, "check_grid", None)
        if check is not None:
            check(grid, strict=True)
    return grid


def run_cli(group: click.Group, argv: list[str] | None = None) -> int:
    """Run the click group with one error handler: a one-line red message on stderr and
    the error's exit code; ``--debug`` shows the traceback."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        rv = group.main(args=args, prog_name="gridres", standalone_mode=False)
    except click.exceptions.Abort:
        console.print("[red]error:[/red] interrupted")
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except GridresError as exc:
        if debug:
            console.print_exception()
        console.print("[red]error:[/red] " + _escape(str(exc)), soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        console.print("[red]error:[/red] interrupted")
        return 130
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
