"""`gridres demo`: the bundled demo study, end to end, and where its report is."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import click

from gridres.cli.common import force_option, json_option

__all__ = ["command", "demo_study"]


def demo_study():
    """Path of the bundled demo study (``grids/studies/demo.toml``)."""
    from gridres.errors import InputNotFound
    from gridres.io.load import grids_dir

    path = grids_dir() / "studies" / "demo.toml"
    if not path.is_file():
        raise InputNotFound(f"{path}: the bundled demo study is missing; reinstall gridres")
    return path


@click.command("demo")
@click.option("--out", type=click.Path(file_okay=False), default="out/demo", show_default=True,
              help="Results directory.")
@click.option("--scenarios", "-n", "scenarios", type=click.IntRange(min=1), default=None,
              help="Number of storms instead of the demo's 300.")
@click.option("--pdf", is_flag=True, help="Also write report.pdf.")
@force_option
@json_option
def command(out: str, scenarios: int | None, pdf: bool, force: bool, as_json: bool) -> int:
    """Run the demo study (a windstorm over the bundled demo_region grid) and print where
    the report is. The study file is grids/studies/demo.toml."""
    from gridres.cli.run import run_and_report

    return run_and_report(demo_study(), out, scenarios, pdf, as_json, force=force,
                          next_steps=next_steps)


def _shown(path: Path) -> str:
    """A path as short as the working directory allows."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive
        return str(path)
    return rel if not rel.startswith("..") else str(path)


def next_steps(res) -> list[tuple[str, str]]:
    """Commands to try after the demo, each with what it shows: the restoration of the
    demo's most exposed substation under two policies, and the storm, worst-case strikes
    and power deficit studies."""
    subs = res.substations
    name = "Vellburg 6"
    if subs is not None and len(subs) and (subs["p_loss_of_supply"] > 0).any():
        name = str(subs["p_loss_of_supply"].idxmax())
    storm = demo_study().with_name("storm.toml")
    return [(f"how fast power comes back after losing {name}, the demo's most exposed "
             "substation, under two repair policies",
             "gridres restore demo_region " + shlex.join([f"--fail=substation:{name}"])
             + " --crews 2 --policy greedy --policy critical-first"),
            ("a stronger storm study with its own report",
             f"gridres run {shlex.quote(_shown(storm))} --out out/storm"),
            ("the worst strikes a capable attacker could make, and which substations to "
             "protect first",
             f"gridres run {shlex.quote(_shown(storm.with_name('defend.toml')))} "
             "--out out/defend"),
            ("weeks short of generation after strikes on power plants: rotating outages "
             "against shedding",
             f"gridres run {shlex.quote(_shown(storm.with_name('deficit.toml')))} "
             "--out out/deficit")]
