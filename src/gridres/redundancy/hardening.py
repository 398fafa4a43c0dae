"""Hardening acts on the hazard, not on the grid: :func:`hardening_targets` names the
assets, and a :class:`~gridres.redundancy.interventions.Design` records for each one the
factor on its fragility median (:data:`IMMUNE`: immune). How that changes the scenarios,
keeping common random numbers, is in :mod:`gridres.redundancy.crn`.
"""

from __future__ import annotations

import difflib
import logging
import math

from gridres.elements import substations
from gridres.errors import UsageError
from gridres.model import Grid, UnknownIdError

__all__ = ["IMMUNE", "HARDEN_FACTOR", "HardKey", "hardening_targets"]

logger = logging.getLogger(__name__)

#: Factor on the fragility median that stands for an immune asset.
IMMUNE = math.inf
#: Default factor on the fragility median of a hardened asset.
HARDEN_FACTOR = 1.5

#: An asset a hardening acts on: ``("substation", NAME)``, ``("branch", ID)`` or
#: ``("gen", ID)``.
HardKey = tuple[str, str]


def hardening_targets(grid: Grid, *, substation: str | None = None, bus: str | None = None,
                      branch: str | None = None, generator: str | None = None,
                      whole: bool = False) -> list[HardKey]:
    """The assets a hardening acts on.

    Parameters
    ----------
    grid : Grid
    substation, bus, branch, generator : str, optional
        Exactly one: a substation name (a bus names its substation), a branch or a
        generator id.
    whole : bool
        For a substation: also the branches inside it (both ends in it, its
        transformers) and its generators.

    Returns
    -------
    list of (str, str)
        ``("substation", NAME)``, ``("branch", ID)``, ``("gen", ID)``.

    Raises
    ------
    UsageError
        Without exactly one target, or for an unknown id.
    """
    given = {k: v for k, v in (("substation", substation), ("bus", bus), ("branch", branch),
                               ("generator", generator)) if v is not None}
    if len(given) != 1:
        raise UsageError("hardening needs exactly one target: substation, bus, branch or "
                         "generator")
    (what, ident), = given.items()
    ident = str(ident)
    if what == "branch":
        grid.lookup("branches", [ident])
        return [("branch", ident)]
    if what == "generator":
        grid.lookup("generators", [ident])
        return [("gen", ident)]
    subs = substations(grid)
    if what == "bus":
        pos = grid.lookup("buses", [ident])[0]
        name = str(subs.names[subs.of_bus[pos]])
    else:
        name = ident
        if name not in subs.names:
            close = difflib.get_close_matches(name, subs.names.tolist(), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UnknownIdError(f"{grid.source or grid.name}: no substation named {name!r}{hint}")
    keys: list[HardKey] = [("substation", name)]
    if whole:
        k = int(subs.names.get_loc(name))
        inside = set(grid.buses.index[subs.of_bus == k])
        br = grid.branches
        both = br["from_bus"].astype(str).isin(inside) & br["to_bus"].astype(str).isin(inside)
        keys += [("branch", str(b)) for b in br.index[both]]
        gens = grid.generators
        keys += [("gen", str(g)) for g in gens.index[gens["bus"].astype(str).isin(inside)]]
    return keys
