"""Waves chosen at their time, inside a restoration: the simulator's one hook for an
attacker who adapts to repairs.

A scenario's :class:`~gridres.scenarios.base.ChosenWaves` are events of the simulation
like its fixed waves. When one falls due, :func:`strike` asks its chooser for the
elements, giving it the run's own state at that instant: every element damaged and
not yet repaired is dead, every repair finished by then (at the same instant too) is
alive again, whatever a cascade tripped is alive (only damage is state). So a repaired
site can be struck again, and each policy, crew count or spare stock faces the strikes
its own repairs invite. The wave is then applied as any other (new jobs, restarts of
repairs under way).

Repair-time factors of a chosen wave are drawn when it strikes, one per element in
listing order, lognormal with mean 1 and log-standard deviation ``repair_sigma``, from
the wave's own stream ``default_rng([seed, j, 1])`` (all ones when ``repair_sigma`` is
0), so two runs of one scenario that strike the same elements in wave ``j`` see the same
repair times for them.
"""

from __future__ import annotations

import numpy as np

from gridres.model import Network, State
from gridres.scenarios.base import ChosenWaves, Wave

__all__ = ["strike", "REPAIR_STREAM"]

#: Tag of a chosen wave's stream of repair-time factors (the chooser draws from tag-less).
REPAIR_STREAM = 1


def strike(chosen: ChosenWaves, j: int, net: Network, state: State,
           repair_sigma: float) -> tuple[Wave, np.ndarray]:
    """Chosen wave ``j`` against the run's ``state``, and its repair-time factors.

    Parameters
    ----------
    chosen : ChosenWaves
    j : int
        Which chosen wave.
    net : Network
    state : State
        What the run has damaged and not yet repaired at the wave's time.
    repair_sigma : float
        Log-standard deviation of repair times (0: deterministic).

    Returns
    -------
    wave : Wave
    factors : ndarray of float
        One per element of the wave (buses, branches, generators, in that order).

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> net = load_grid("ieee14").network
    >>> def first_alive(net, state, time_h, rng):
    ...     return Wave(buses=[int(np.flatnonzero(state.bus)[0])])
    >>> cw = ChosenWaves((12.0,), first_alive, seed=3)
    >>> wave, factors = strike(cw, 0, net, net.intact().fail([0]), 0.0)
    >>> wave.time_h, wave.buses.tolist(), factors.tolist()
    (12.0, [1], [1.0])
    """
    wave = chosen.choose(net, state, j)
    if repair_sigma <= 0:
        return wave, np.ones(wave.size)
    rng = chosen.rng(j, REPAIR_STREAM)
    return wave, rng.lognormal(-0.5 * repair_sigma**2, repair_sigma, size=wave.size)
