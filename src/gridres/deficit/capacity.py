"""Capacity over time: the generation available to each island in each hour.

:func:`available_capacity` starts from the engine: the outage state's islands (rule 2;
a capacity in one island serves only that island) and its alive generators' ``pmax_mw``
(rule 3). Then, in this order:

1. *derating*: a fraction of each generator unavailable, one figure or one per generator
   kind (``{"wind": 0.7}``: wind farms at 30 % of their capacity);
2. *imports through tie branches*: where tie branches and an import limit are given,
   the generators beyond the ties (the parts of the grid that hold no load once the ties
   are cut) count for at most the limit in total; the schedule also keeps the net flow
   into the grid through the ties within the limit (:mod:`.schedule`);
3. *a system figure per hour* (``share`` × the peak demand of the horizon, a fixed
   ``mw``, or ``per_hour_mw`` from a file): every alive generator is derated by the same
   factor so that the total is that figure, never above what steps 1-2 left (the cap is
   noted). A figure says how much, not where: the same share of every unit is lost.

Each hour's dispatch (:meth:`Capacity.dispatch`) follows the demand it must serve,
starting from the case's scheduled ``p_mw`` (within each generator's available
capacity): below the island's scheduled total, every generator is scaled down in
proportion to its schedule; above it, the rest is shared in proportion to each
generator's headroom (available capacity minus schedule), as participation factors of a
frequency control do. The grid's own schedule is for one load level; this keeps its
pattern while following demand over the day, and never runs a unit past its capacity.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gridres.deficit.profiles import Demand
from gridres.deficit.tables import ROW_OFFSET, read_table
from gridres.errors import GridError, UsageError
from gridres.model import Grid, State
from gridres.topology import components, effective, islands

__all__ = ["Capacity", "available_capacity", "read_capacity_file", "follow_schedule",
           "limit_units", "tie_branches", "outside_buses", "derating",
           "read_capacity_series"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Capacity:
    """Available capacity per generator, island and hour.

    Attributes
    ----------
    times : pandas.DatetimeIndex, shape (H,)
    state : State
        Effective outage state (failed buses' branches and generators removed).
    island : ndarray of int, shape (n_bus,)
        Island of every alive bus (0, 1, ...), -1 for dead buses.
    gen_mw : ndarray, shape (H, n_gen)
        Capacity of every generator in every hour (0 for failed ones).
    island_mw : ndarray, shape (H, n_islands)
        Capacity of every island in every hour.
    ties : ndarray of int
        Positions of the tie branches (empty without an import limit).
    outside : ndarray of bool, shape (n_bus,)
        Buses beyond the ties (the external supply).
    import_limit_mw : float or None
    source : str
        How the capacity was set, in words.
    notes : tuple of str
    """

    times: pd.DatetimeIndex
    state: State
    island: np.ndarray
    gen_mw: np.ndarray
    island_mw: np.ndarray
    ties: np.ndarray
    outside: np.ndarray
    import_limit_mw: float | None
    source: str
    notes: tuple[str, ...] = ()

    @property
    def n_islands(self) -> int:
        return self.island_mw.shape[1]

    @property
    def total_mw(self) -> np.ndarray:
        """Capacity of the whole grid per hour, shape (H,)."""
        return self.island_mw.sum(axis=1)

    def dispatch(self, grid: Grid, hour: int, need_mw: np.ndarray) -> np.ndarray:
        """Generator outputs that serve ``need_mw`` (per island) in ``hour``.

        Parameters
        ----------
        grid : Grid
        hour : int
        need_mw : ndarray, shape (n_islands,)
            Demand to serve in each island (served load plus fixed demand), at most its
            capacity.

        Returns
        -------
        ndarray, shape (n_gen,)
            Output of every generator, within ``[0, gen_mw[hour]]``; the outputs of an
            island add up to its need (see the module notes).
        """
        net = grid.network
        avail = self.gen_mw[hour]
        gi = np.where(self.state.gen, self.island[net.gen_bus], -1)
        on = gi >= 0
        cap = np.bincount(gi[on], weights=avail[on], minlength=self.n_islands)
        out = np.zeros(net.n_gen)
        out[on] = follow_schedule(net.gen_p_mw[on], avail[on], gi[on],
                                  np.clip(need_mw, 0.0, cap))
        return out


def follow_schedule(sched_mw: np.ndarray, avail_mw: np.ndarray, pool: np.ndarray,
                    target_mw: np.ndarray) -> np.ndarray:
    """Outputs that add up to ``target_mw`` in every pool, starting from a schedule.

    The schedule (clipped to ``[0, avail]``) is scaled down in proportion where the
    target is below its total; above, the rest is shared in proportion to headroom
    (``avail - sched``). Every output stays within ``[0, avail]``.

    Parameters
    ----------
    sched_mw, avail_mw : ndarray, shape (n,)
    pool : ndarray of int, shape (n,)
        Pool (island) of every unit, ``0 .. P-1``.
    target_mw : ndarray, shape (P,)
        At most the pool's total ``avail_mw``.

    Returns
    -------
    ndarray, shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> sched, avail, pool = np.array([10.0, 30.0]), np.array([20.0, 40.0]), np.zeros(2, int)
    >>> follow_schedule(sched, avail, pool, np.array([20.0])).tolist()  # down: 1:3
    [5.0, 15.0]
    >>> follow_schedule(sched, avail, pool, np.array([50.0])).tolist()  # up: headroom 1:1
    [15.0, 35.0]
    """
    n_pool = len(target_mw)
    sched = np.clip(sched_mw, 0.0, avail_mw)
    room = avail_mw - sched
    total = np.bincount(pool, weights=sched, minlength=n_pool)
    total_room = np.bincount(pool, weights=room, minlength=n_pool)
    down = np.divide(target_mw, total, out=np.zeros(n_pool), where=total > 0)
    up = np.divide(target_mw - total, total_room, out=np.zeros(n_pool), where=total_room > 0)
    out = np.where((target_mw <= total)[pool], sched * down[pool], sched + room * up[pool])
    return np.clip(out, 0.0, avail_mw)


def derating(grid: Grid, derate: float | Mapping[str, float] | None) -> np.ndarray:
    """Fraction of each generator's capacity that is available."""
    n = len(grid.generators)
    if derate is None:
        return np.ones(n)
    if isinstance(derate, Mapping):
        kinds = grid.generators["kind"].astype(str).to_numpy()
        fuels = (grid.generators["fuel"].astype(str).to_numpy()
                 if "fuel" in grid.generators.columns else kinds)
        out = np.ones(n)
        for kind, frac in derate.items():
            if not 0.0 <= float(frac) <= 1.0:
                raise UsageError(f"derating {kind}={frac}: give a fraction from 0 to 1 (the "
                                 "share of capacity unavailable)")
            sel = (kinds == kind) | (fuels == kind)
            if not sel.any():
                raise UsageError(f"derating {kind}={frac}: no generator of kind {kind!r}; "
                                 f"kinds in the grid: {', '.join(sorted(set(kinds)))}")
            out[sel] = 1.0 - float(frac)
        return out
    if not 0.0 <= float(derate) <= 1.0:
        raise UsageError(f"The 'derate' parameter must be a fraction from 0 to 1 (the share of "
                         f"capacity unavailable). Got {derate!r} instead.")
    return np.full(n, 1.0 - float(derate))


def outside_buses(grid: Grid, eff: State, ties: np.ndarray, demand: Demand) -> np.ndarray:
    """Buses beyond the tie branches: the components without load once the ties are cut."""
    net = grid.network
    branch = eff.branch.copy()
    branch[ties] = False
    n_comp, labels = components(net, branch)
    load = demand.bus_mw.max(axis=0) + np.maximum(demand.fixed_mw, 0.0)
    comp_load = np.bincount(labels, weights=np.where(eff.bus, load, 0.0), minlength=n_comp)
    outside = eff.bus & (comp_load[labels] <= 0)
    has_gen = np.zeros(net.n_bus, dtype=bool)
    has_gen[net.gen_bus[eff.gen]] = True
    comp_gen = np.bincount(labels, weights=has_gen.astype(float), minlength=n_comp)
    outside &= comp_gen[labels] > 0
    if not outside.any():
        names = ", ".join(net.branch_ids[ties][:3])
        raise UsageError(f"tie branches {names}: cutting them leaves no part of the grid with "
                         "generation and without load; name the branches that connect an "
                         "external supply")
    return outside


def tie_branches(grid: Grid, ties: Sequence[str], import_limit_mw: float | None) -> np.ndarray:
    """Positions of the tie branches of an import limit, checked: both or neither given,
    the limit >= 0, the branches known."""
    if import_limit_mw is None or not len(ties):
        raise UsageError("an import limit needs tie branches and tie branches need an "
                         "import limit: give both")
    if not import_limit_mw >= 0:
        raise UsageError(f"The 'import_limit_mw' parameter must be >= 0. Got "
                         f"{import_limit_mw!r} instead.")
    return grid.lookup("branches", ties)


def limit_units(unit_mw: np.ndarray, alive: np.ndarray, outside: np.ndarray,
                import_limit_mw: float | None,
                figure_mw: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Steps 2 and 3 of the module notes on derated unit capacities.

    Parameters
    ----------
    unit_mw : ndarray, shape (H, n_gen)
        Capacity of every unit in every hour after derating.
    alive : ndarray of bool, shape (n_gen,)
        Units that count in the sums (the others are scaled alike, so that a unit
        repaired later has its share).
    outside : ndarray of bool, shape (n_gen,)
        Units beyond the tie branches (their alive total is held to the import limit).
    import_limit_mw : float or None
    figure_mw : ndarray, shape (H,), or None
        A system figure per hour: every unit is scaled alike so that the alive total is
        at most the figure.

    Returns
    -------
    unit_mw : ndarray, shape (H, n_gen)
    capped : ndarray of bool, shape (H,)
        Hours whose figure is above what the alive units can give.

    Examples
    --------
    >>> import numpy as np
    >>> mw = np.array([[100.0, 50.0, 30.0]])
    >>> alive, outside = np.array([True, True, False]), np.array([False, True, True])
    >>> out, capped = limit_units(mw, alive, outside, 20.0, np.array([90.0]))
    >>> out.round(3).tolist(), capped.tolist()   # import 50 -> 20, then 120 -> 90
    ([[75.0, 15.0, 9.0]], [False])
    """
    out = np.array(unit_mw, dtype=float)
    hours = out.shape[0]
    if import_limit_mw is not None and outside.any():
        total = out[:, outside & alive].sum(axis=1)
        scale = np.minimum(1.0, np.divide(import_limit_mw, total, out=np.ones(hours),
                                          where=total > 0))
        out[:, outside] *= scale[:, None]
    capped = np.zeros(hours, dtype=bool)
    if figure_mw is not None:
        total = out[:, alive].sum(axis=1)
        capped = figure_mw > total * (1 + 1e-9) + 1e-9
        scale = np.minimum(1.0, np.divide(figure_mw, total, out=np.zeros(hours),
                                          where=total > 0))
        out = out * scale[:, None]
    return out, capped


def available_capacity(
    grid: Grid,
    demand: Demand,
    *,
    state: State | None = None,
    share: float | None = None,
    mw: float | None = None,
    per_hour_mw: Sequence[float] | np.ndarray | None = None,
    derate: float | Mapping[str, float] | None = None,
    ties: Sequence[str] = (),
    import_limit_mw: float | None = None,
) -> Capacity:
    """Capacity per island and hour (see the module notes).

    Parameters
    ----------
    grid : Grid
    demand : Demand
        Demand per bus and hour; its times are the horizon, its peak the base of
        ``share``.
    state : State, optional
        The outage (default: the intact grid).
    share : float, optional
        Capacity = ``share`` × the peak demand of the horizon (load plus fixed demand of
        every in-service bus), every hour.
    mw : float, optional
        Capacity in MW, every hour.
    per_hour_mw : array of float, shape (H,), optional
        Capacity in MW per hour (see :func:`read_capacity_file`).
    derate : float or mapping of generator kind (or fuel) to float, optional
        Share of capacity unavailable.
    ties : sequence of str
        Branch ids of the tie branches to an external supply.
    import_limit_mw : float, optional
        Limit of the imports through ``ties`` (MW); needs ``ties``.

    Returns
    -------
    Capacity

    Raises
    ------
    UsageError
        For more than one of ``share``, ``mw``, ``per_hour_mw``, negative figures, an
        import limit without ties, unknown tie branches.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> from gridres.deficit.profiles import FlatProfile, hourly_times
    >>> g = load_grid("ieee14")
    >>> d = FlatProfile().demand(g, hourly_times("2025-01-06", 2))
    >>> cap = available_capacity(g, d, share=0.8)
    >>> cap.total_mw.round(1).tolist()
    [207.2, 207.2]
    """
    net = grid.network
    times = demand.times
    hours = len(times)
    given = [k for k, v in (("share", share), ("mw", mw), ("per_hour_mw", per_hour_mw))
             if v is not None]
    if len(given) > 1:
        raise UsageError(f"give one capacity figure, not {' and '.join(given)}")
    state = state if state is not None else net.intact()
    eff = effective(net, state)
    island = islands(net, state)
    n_isl = int(island.max()) + 1 if (island >= 0).any() else 0
    alive_gen = eff.gen
    gen_island = np.where(alive_gen, island[net.gen_bus], -1)
    avail = np.where(alive_gen, net.gen_pmax_mw, 0.0) * derating(grid, derate)
    gen_mw = np.tile(avail, (hours, 1))
    notes: list[str] = []
    damaged = ((~eff.gen & net.gen_in_service).any() or (~eff.bus & net.bus_in_service).any()
               or (~eff.branch & net.live_branch).any())
    source = "generation alive after the outage" if damaged else "the grid's generation"
    if derate is not None:
        source += ", derated"

    tie_pos = np.zeros(0, dtype=np.int64)
    outside = np.zeros(net.n_bus, dtype=bool)
    if import_limit_mw is not None or len(ties):
        tie_pos = tie_branches(grid, ties, import_limit_mw)
        outside = outside_buses(grid, eff, tie_pos, demand)
        source += f", imports through {len(tie_pos)} tie branch(es) at most " \
                  f"{import_limit_mw:g} MW"

    figure = None
    if share is not None:
        if not share >= 0:
            raise UsageError(f"The 'share' parameter must be >= 0. Got {share!r} instead.")
        peak = float(demand.total_mw().max())
        figure = np.full(hours, share * peak)
        source = f"{share:g} x the peak demand of {peak:,.1f} MW"
    elif mw is not None:
        if not mw >= 0:
            raise UsageError(f"The 'mw' parameter must be >= 0. Got {mw!r} instead.")
        figure = np.full(hours, float(mw))
        source = f"{float(mw):,.1f} MW"
    elif per_hour_mw is not None:
        figure = np.asarray(per_hour_mw, dtype=float)
        if figure.shape != (hours,):
            raise UsageError(f"capacity per hour: {len(figure)} values for {hours} hours")
        if not (np.isfinite(figure) & (figure >= 0)).all():
            raise UsageError("capacity per hour: values must be numbers >= 0")
        source = "capacity per hour from a file"
    gen_mw, capped = limit_units(gen_mw, alive_gen, alive_gen & outside[net.gen_bus],
                                 import_limit_mw, figure)
    if capped.any():
        notes.append(f"capacity capped at the {gen_mw[capped].sum(axis=1).min():,.1f} MW "
                     f"the alive generators can give in {int(capped.sum())} hour(s)")
    on = gen_island >= 0
    island_mw = np.zeros((hours, n_isl))
    for h in range(hours):
        island_mw[h] = np.bincount(gen_island[on], weights=gen_mw[h, on], minlength=n_isl)
    return Capacity(times, eff, island, gen_mw, island_mw, tie_pos, outside,
                    import_limit_mw, source, tuple(notes))


def read_capacity_series(path: str | Path) -> pd.Series:
    """Available MW per hour as written in a capacity file (see
    :func:`read_capacity_file`), checked row by row.

    Returns
    -------
    pandas.Series
        ``capacity_mw`` indexed by time stamps (a ``time`` column) or by whole hours from
        the start (an ``hour`` column, int), sorted.

    Raises
    ------
    InputNotFound, GridError
        As :func:`read_capacity_file`, except for missing hours.
    """
    path = Path(path)
    df = read_table(path, "capacity")
    time_col = "time" if "time" in df.columns else "hour" if "hour" in df.columns else None
    if time_col is None or "capacity_mw" not in df.columns:
        raise GridError(f"{path}: a capacity file has columns time (or hour) and capacity_mw; "
                        f"found {', '.join(df.columns) or 'none'}")
    if df.empty:
        raise GridError(f"{path}: no capacity rows")
    rows = np.arange(len(df)) + ROW_OFFSET
    values = pd.to_numeric(df["capacity_mw"], errors="coerce").to_numpy(float)
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if len(bad):
        k = bad[0]
        raise GridError(f"{path}: row {rows[k]}: capacity_mw {df['capacity_mw'].iloc[k]!r} is "
                        f"{'negative' if values[k] < 0 else 'not a number'}; give MW >= 0")
    if time_col == "hour":
        key = pd.to_numeric(df["hour"], errors="coerce")
        whole = key.notna() & (key >= 0) & (key == key.round())
        key = key.where(whole)
    else:
        key = pd.to_datetime(df["time"], errors="coerce")
    badk = np.flatnonzero(key.isna().to_numpy())
    if len(badk):
        what = "is not a whole number >= 0" if time_col == "hour" else "is not readable"
        raise GridError(f"{path}: row {rows[badk[0]]}: {time_col} "
                        f"{df[time_col].iloc[badk[0]]!r} {what}")
    index = pd.Index(key.astype(np.int64) if time_col == "hour" else key)
    series = pd.Series(values, index=index, name="capacity_mw")
    if series.index.duplicated().any():
        k = int(np.flatnonzero(series.index.duplicated())[0])
        raise GridError(f"{path}: row {rows[k]}: a second row for {df[time_col].iloc[k]}")
    return series.sort_index()


def read_capacity_file(path: str | Path, times: pd.DatetimeIndex) -> np.ndarray:
    """Available MW per hour from a CSV or Parquet file with columns ``time`` (ISO date
    and time; or ``hour``, hours from the start) and ``capacity_mw``.

    Returns
    -------
    ndarray, shape (H,)
        One value per hour of ``times``.

    Raises
    ------
    InputNotFound
        If the file does not exist.
    GridError
        On missing columns, negative or non-numeric values, or an hour of the horizon
        without a row (the message names the row or the hour).
    """
    series = read_capacity_series(path)
    hourly = pd.api.types.is_integer_dtype(series.index)
    got = series.reindex(pd.Index(np.arange(len(times))) if hourly else times)
    if got.isna().any():
        k = int(np.flatnonzero(got.isna().to_numpy())[0])
        raise GridError(f"{path}: no capacity_mw for {times[k]} (hour {k}); give a row for "
                        f"every hour of the horizon ({times[0]} to {times[-1]})")
    return got.to_numpy(float)
