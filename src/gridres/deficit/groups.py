"""Groups ("queues") of load that a rotation switches on and off as a whole.

:func:`form_groups` partitions the load buses into groups of similar load, compact on
the map where the buses have coordinates, and in the grid's graph where they do not:

1. *Where*: bus coordinates in km (lon/lat projected around the grid's mean latitude);
   without coordinates, each bus's hop distances to a few landmark buses (the first
   drawn with ``seed``, each next one the bus farthest from those chosen), an embedding
   in which buses close in the grid are close.
2. *Split*: recursive bisection along the principal axis of the buses' positions, each
   cut where the load on either side is in proportion to the number of groups it gets,
   so that each group is compact and within about one bus's load of the target.
3. *Balance*: buses on the border move to the neighbouring group whose centre is nearest
   (at most 1.5 times as far as their own) while that lowers the sum of squared
   deviations from the target load.

Groups never span islands of the outage: each island with load gets groups in proportion
to its load (at least one). Buses in islands without generation are dark whatever the
schedule and belong to no group.

Protected groups
----------------
Load that feeds critical facilities (:data:`~gridres.deficit.profiles.PROTECTED_KINDS`) is
never switched off while supply allows. With ``protect="feeders"`` (the default) only
that part of a bus's load is protected (the facilities' ``demand_mw``: their feeders are
kept on while the bus's other feeders rotate with its group); with ``protect="buses"``
the whole bus is. Protected load forms its own groups, ``P1``, ``P2``, … (about one per
rotation group's worth of load, at least one per island); rotation groups are ``1`` …
``G``, numbered by island and then from the north-west. Customers of a bus count in its
rotating part.

A groups file (:func:`read_groups`) gives the partition instead: CSV or Parquet with
columns ``bus`` and ``group`` and optionally ``protected`` (true/false, one value per
group). Every load bus must be listed; a group switches its buses' whole load (the split
of protected feeders applies to formed groups only).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

from gridres.deficit.profiles import PROTECTED_KINDS, Demand, protected_mw
from gridres.deficit.tables import ROW_OFFSET, read_table
from gridres.errors import GridError, UsageError
from gridres.model import Grid, UnknownIdError
from gridres.scenarios.hazard import asset_geometry
from gridres.topology import islands

__all__ = ["Groups", "form_groups", "read_groups", "bus_positions_km", "PROTECT_MODES"]

logger = logging.getLogger(__name__)

#: What ``protect`` may be: the facilities' feeders only, or their whole buses.
PROTECT_MODES = ("feeders", "buses")

# part kinds: a whole bus, the rotating rest of a bus, the protected feeders of a bus
WHOLE, REST, CRITICAL = 0, 1, 2


@dataclass(frozen=True, eq=False)
class Groups:
    """A partition of the load into groups switched as a whole.

    The load is cut into *parts*: a whole bus, or a bus's protected feeders and the rest
    of its load. Each part belongs to one group.

    Attributes
    ----------
    ids : tuple of str, shape (n_groups,)
    protected : ndarray of bool, shape (n_groups,)
    island : ndarray of int, shape (n_groups,)
        The island that holds most of each group's load (its fairness pool).
    part_bus, part_group, part_kind : ndarray of int, shape (n_parts,)
        Bus, group and kind (0 whole bus, 1 rotating rest, 2 protected feeders) of each
        part.
    customers : ndarray of int, shape (n_groups,)
    dark_buses : ndarray of int
        Load buses left out: dead, or in islands without generation.
    method : str
        How the groups were made, in words.
    """

    ids: tuple[str, ...]
    protected: np.ndarray
    island: np.ndarray
    part_bus: np.ndarray
    part_group: np.ndarray
    part_kind: np.ndarray
    customers: np.ndarray
    dark_buses: np.ndarray
    method: str

    def __len__(self) -> int:
        return len(self.ids)

    def part_mw(self, demand: Demand) -> np.ndarray:
        """Demand of every part in every hour, shape (H, n_parts)."""
        bus = demand.bus_mw[:, self.part_bus]
        crit = demand.critical_mw[:, self.part_bus]
        kind = self.part_kind[None, :]
        return np.where(kind == CRITICAL, crit, np.where(kind == REST, bus - crit, bus))

    def group_mw(self, demand: Demand) -> np.ndarray:
        """Demand of every group in every hour, shape (H, n_groups)."""
        out = np.zeros((demand.hours, len(self)))
        np.add.at(out.T, self.part_group, self.part_mw(demand).T)
        return out

    def buses(self, g: int) -> np.ndarray:
        """Bus positions of group ``g`` (ascending)."""
        return np.unique(self.part_bus[self.part_group == g])


def bus_positions_km(grid: Grid) -> np.ndarray | None:
    """Bus coordinates in km, shape (n_bus, 2) (NaN where a bus has none); None without
    coordinates. Lon/lat are projected around the mean latitude (equirectangular)."""
    if not grid.has_geometry:
        return None
    geo = asset_geometry(grid, who="groups")
    xy = np.full((len(grid.buses), 2), np.nan)
    for i, p in enumerate(geo.bus):
        if p is not None:
            xy[i] = (p.x, p.y)
    if geo.geographic:
        lat0 = np.radians(np.nanmean(xy[:, 1]))
        return np.column_stack([xy[:, 0] * 111.32 * math.cos(lat0), xy[:, 1] * 110.57])
    return xy * geo.km_per_unit


def _graph_positions(grid: Grid, buses: np.ndarray, rng: np.random.Generator,
                     alive_branch: np.ndarray) -> np.ndarray:
    """Hop distances of ``buses`` to up to 8 landmark buses (farthest-point), (n, L)."""
    net = grid.network
    k = np.flatnonzero(alive_branch)
    adj = sp.coo_matrix((np.ones(len(k)), (net.f[k], net.t[k])),
                        shape=(net.n_bus, net.n_bus)).tocsr()
    n_land = min(8, len(buses))
    land = [int(buses[rng.integers(len(buses))])]
    dist = shortest_path(adj, directed=False, unweighted=True, indices=land)
    for _ in range(n_land - 1):
        near = dist.min(axis=0)[buses]
        near[~np.isfinite(near)] = -1
        nxt = int(buses[int(np.argmax(near))])
        if nxt in land:
            break
        land.append(nxt)
        dist = np.vstack([dist, shortest_path(adj, directed=False, unweighted=True,
                                              indices=[nxt])])
    pos = dist[:, buses].T
    pos[~np.isfinite(pos)] = 0.0
    return pos


def _bisect(pos: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """Recursive bisection of points into ``k`` parts of about equal weight (labels)."""
    labels = np.zeros(len(w), dtype=np.int64)

    def split(idx: np.ndarray, parts: int, first: int) -> None:
        if parts == 1 or len(idx) <= 1:
            labels[idx] = first
            return
        p = pos[idx] - pos[idx].mean(axis=0)
        if len(idx) > 2 and np.ptp(p, axis=0).max() > 0:
            _, _, vt = np.linalg.svd(p, full_matrices=False)
            key = p @ vt[0]
        else:
            key = np.arange(len(idx), dtype=float)
        order = idx[np.lexsort((idx, key))]
        left = parts // 2
        target = w[order].sum() * left / parts
        csum = np.cumsum(w[order])
        cut = int(np.searchsorted(csum, target))
        # the cut nearest the target, leaving at least ``left`` and ``parts - left`` points
        if cut < len(order) and cut > 0 and abs(csum[cut - 1] - target) <= abs(csum[cut] - target):
            cut -= 1
        cut = min(max(cut + 1, left), len(order) - (parts - left))
        split(order[:cut], left, first)
        split(order[cut:], parts - left, first + left)

    split(np.arange(len(w)), k, 0)
    return labels


def _balance(pos: np.ndarray, w: np.ndarray, labels: np.ndarray, k: int,
             max_moves: int = 500) -> np.ndarray:
    """Move border points to a neighbouring group while that lowers the squared
    deviation from the mean load (a point moves only to a group whose centre is at most
    1.5 times as far as its own, and no group is left empty)."""
    labels = labels.copy()
    target = w.sum() / k
    for _ in range(max_moves):
        load = np.bincount(labels, weights=w, minlength=k)
        count = np.bincount(labels, minlength=k)
        centre = np.vstack([np.average(pos[labels == j], axis=0,
                                       weights=np.maximum(w[labels == j], 1e-12))
                            for j in range(k)])
        d = np.linalg.norm(pos[:, None, :] - centre[None, :, :], axis=2)
        own = d[np.arange(len(w)), labels]
        d[np.arange(len(w)), labels] = np.inf
        other = np.argmin(d, axis=1)
        near = d[np.arange(len(w)), other] <= 1.5 * own + 1e-9
        la, lb = load[labels], load[other]
        delta = ((la - w - target) ** 2 - (la - target) ** 2
                 + (lb + w - target) ** 2 - (lb - target) ** 2)
        delta[~near | (count[labels] <= 1)] = np.inf
        best = int(np.argmin(delta))
        if not delta[best] < -1e-9 * max(target, 1.0) ** 2:
            break
        labels[best] = other[best]
    return labels


def _lit_load(grid: Grid, island: np.ndarray | None,
              energized: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Island of every bus (default: the intact grid's), whether it is alive in an island
    with generation, and its positive load (MW) if in service."""
    net = grid.network
    if island is None:
        island = islands(net, net.intact())
    n_isl = int(island.max()) + 1 if (island >= 0).any() else 0
    energized = np.ones(n_isl, dtype=bool) if energized is None else np.asarray(energized)
    lit = (island >= 0) & energized[np.maximum(island, 0)]
    load = np.where(net.bus_in_service, np.maximum(net.load_mw, 0.0), 0.0)
    return island, lit, load


def _partition(pos: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    labels = _bisect(pos, w, k)
    if k > 1:
        labels = _balance(pos, w, labels, k)
    return labels


def _apportion(load: np.ndarray, k: int) -> np.ndarray:
    """``k`` groups shared over islands in proportion to their load, at least one each
    (largest remainder)."""
    n = len(load)
    out = np.ones(n, dtype=np.int64)
    rest = k - n
    if rest > 0:
        quota = load / load.sum() * k
        extra = np.maximum(np.floor(quota) - 1, 0).astype(np.int64)
        while extra.sum() > rest:
            extra[np.argmax(extra)] -= 1
        out += extra
        left = k - out.sum()
        if left > 0:
            order = np.argsort(-(quota - out), kind="stable")
            for j in order[:left]:
                out[j] += 1
    return out


def _order(labels: np.ndarray, pos: np.ndarray | None, bus: np.ndarray, k: int) -> np.ndarray:
    """Renumber ``k`` groups from the north-west (by coordinates) or by lowest bus."""
    if pos is not None and np.isfinite(pos).all():
        centre = np.vstack([pos[labels == j].mean(axis=0) for j in range(k)])
        key = np.lexsort((centre[:, 0], -np.round(centre[:, 1] / 10.0)))  # 10 km bands
    else:
        key = np.argsort([bus[labels == j].min() for j in range(k)], kind="stable")
    rank = np.empty(k, dtype=np.int64)
    rank[key] = np.arange(k)
    return rank[labels]


def form_groups(
    grid: Grid,
    n_groups: int,
    *,
    island: np.ndarray | None = None,
    energized: np.ndarray | None = None,
    protect: str = "feeders",
    seed: int = 0,
) -> Groups:
    """Partition the load buses into ``n_groups`` rotation groups plus protected groups
    (see the module notes).

    Parameters
    ----------
    grid : Grid
    n_groups : int
        Number of rotation (unprotected) groups, at least the number of islands with load.
    island : ndarray of int, shape (n_bus,), optional
        Island of every bus (-1 dead), e.g. :attr:`Capacity.island`; default the intact
        grid's.
    energized : ndarray of bool, shape (n_islands,), optional
        Islands with generation; load elsewhere is dark and in no group.
    protect : {"feeders", "buses"}
    seed : int
        Seed of the first landmark bus where the grid has no coordinates.

    Returns
    -------
    Groups

    Raises
    ------
    UsageError
        For fewer groups than islands with load, or more groups than load buses.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> g = form_groups(load_grid("ieee14"), 3)
    >>> g.ids, g.protected.tolist()
    (('1', '2', '3', 'P1'), [False, False, False, True])
    """
    if protect not in PROTECT_MODES:
        raise UsageError(f"The 'protect' parameter must be one of {', '.join(PROTECT_MODES)}. "
                         f"Got {protect!r} instead.")
    if not isinstance(n_groups, int | np.integer) or n_groups < 1:
        raise UsageError(f"The 'groups' parameter must be an int >= 1. Got {n_groups!r} "
                         "instead.")
    net = grid.network
    island, lit, load = _lit_load(grid, island, energized)
    has_load = load > 0
    dark = np.flatnonzero(has_load & ~lit)
    kinds = grid.facilities["kind"].astype(str).str.lower().to_numpy()
    crit_bus = np.zeros(net.n_bus, dtype=bool)
    crit_bus[net.fac_bus[np.isin(kinds, PROTECTED_KINDS)]] = True
    crit_mw = protected_mw(grid)

    # parts: (bus, kind, protected, static MW)
    buses = np.flatnonzero(has_load & lit)
    if protect == "buses":
        rot_bus = buses[~crit_bus[buses]]
        rot_kind = np.full(len(rot_bus), WHOLE)
        pro_bus = buses[crit_bus[buses]]
        pro_kind = np.full(len(pro_bus), WHOLE)
    else:
        split = crit_mw[buses] > 0
        rest = load[buses] - crit_mw[buses] > 1e-9 * np.maximum(load[buses], 1.0)
        rot_bus = buses[rest]
        rot_kind = np.where(split[rest], REST, WHOLE)
        pro_bus = buses[split]
        pro_kind = np.where(rest[split], CRITICAL, WHOLE)
    rot_mw = np.where(rot_kind == REST, load[rot_bus] - crit_mw[rot_bus], load[rot_bus])
    pro_mw = np.where(pro_kind == CRITICAL, crit_mw[pro_bus], load[pro_bus])

    isl_with = np.unique(island[rot_bus])
    if n_groups > len(rot_bus):
        raise UsageError(f"{n_groups} groups but only {len(rot_bus)} load buses can rotate; "
                         f"give --groups {len(rot_bus)} or fewer")
    if n_groups < len(isl_with):
        raise UsageError(f"the outage leaves {len(isl_with)} islands with load and each "
                         f"needs its own groups; give --groups {len(isl_with)} or more")

    xy = bus_positions_km(grid)
    if xy is not None and not np.isfinite(xy[np.r_[rot_bus, pro_bus]]).all():
        logger.warning("%s: some load buses have no coordinates; grouping by the grid's "
                       "graph instead", grid.source or grid.name)
        xy = None
    rng = np.random.default_rng(seed)
    branch_alive = net.live_branch & (island[net.f] >= 0) & (island[net.t] >= 0) \
        & (island[net.f] == island[net.t])

    def positions(b: np.ndarray) -> np.ndarray:
        return xy[b] if xy is not None else _graph_positions(grid, b, rng, branch_alive)

    rot_isl_load = np.array([rot_mw[island[rot_bus] == i].sum() for i in isl_with])
    per_isl = _apportion(rot_isl_load, int(n_groups))
    part_bus, part_group, part_kind = [], [], []
    ids: list[str] = []
    protected: list[bool] = []
    home: list[int] = []
    nxt = 0
    for i, k in zip(isl_with, per_isl, strict=True):
        sel = island[rot_bus] == i
        b = rot_bus[sel]
        k = int(min(k, len(b)))
        labels = _order(_partition(positions(b), rot_mw[sel], k), xy[b] if xy is not None
                        else None, b, k)
        part_bus.append(b)
        part_group.append(labels + nxt)
        part_kind.append(rot_kind[sel])
        ids += [str(nxt + j + 1) for j in range(k)]
        protected += [False] * k
        home += [int(i)] * k
        nxt += k
    target = rot_mw.sum() / max(int(n_groups), 1)
    n_rot = nxt
    for i in np.unique(island[pro_bus]):
        sel = island[pro_bus] == i
        b = pro_bus[sel]
        k = int(min(len(b), max(1, round(pro_mw[sel].sum() / max(target, 1e-9)))))
        labels = _order(_partition(positions(b), pro_mw[sel], k), xy[b] if xy is not None
                        else None, b, k)
        part_bus.append(b)
        part_group.append(labels + nxt)
        part_kind.append(pro_kind[sel])
        ids += [f"P{nxt - n_rot + j + 1}" for j in range(k)]
        protected += [True] * k
        home += [int(i)] * k
        nxt += k
    pb = np.concatenate(part_bus) if part_bus else np.zeros(0, np.int64)
    pg = np.concatenate(part_group) if part_group else np.zeros(0, np.int64)
    pk = np.concatenate(part_kind) if part_kind else np.zeros(0, np.int64)
    cust = np.where(pk == CRITICAL, 0, net.customers[pb])
    how = "compact on the map" if xy is not None else "compact in the grid's graph"
    return Groups(tuple(ids), np.array(protected, dtype=bool), np.array(home, dtype=np.int64),
                  pb.astype(np.int64), pg.astype(np.int64), pk.astype(np.int64),
                  np.bincount(pg, weights=cust, minlength=nxt).astype(np.int64), dark,
                  f"{n_rot} groups of similar load, {how}"
                  + (f", and {nxt - n_rot} protected" if nxt > n_rot else ""))


def _flag(v: object) -> bool | None:
    text = str(v).strip().lower()
    if text in ("true", "1", "yes", "y", "t"):
        return True
    if text in ("false", "0", "no", "n", "f", ""):
        return False
    return None


def read_groups(path: str | Path, grid: Grid, *, island: np.ndarray | None = None,
                energized: np.ndarray | None = None) -> Groups:
    """Read groups from a CSV or Parquet file with columns ``bus``, ``group`` and
    optionally ``protected`` (see the module notes).

    Raises
    ------
    InputNotFound
        If the file does not exist.
    GridError
        On missing columns, a load bus without a group, a bus listed twice, or a group
        both protected and not.
    UsageError
        On a bus id the grid does not have.
    """
    path = Path(path)
    df = read_table(path, "groups")
    if not {"bus", "group"} <= set(df.columns):
        raise GridError(f"{path}: a groups file has columns bus, group (and optionally "
                        f"protected); found {', '.join(df.columns) or 'none'}")
    rows = np.arange(len(df)) + ROW_OFFSET
    bus_ids = df["bus"].astype(str).str.strip()
    names = df["group"].astype(str).str.strip()
    empty = np.flatnonzero((names == "").to_numpy())
    if len(empty):
        raise GridError(f"{path}: row {rows[empty[0]]}: bus {bus_ids.iloc[empty[0]]!r} has no "
                        "group")
    try:
        pos = grid.lookup("buses", bus_ids)
    except UnknownIdError as exc:
        raise UnknownIdError(f"{path}: {exc}") from None
    dup = pd.Series(pos).duplicated().to_numpy()
    if dup.any():
        k = int(np.flatnonzero(dup)[0])
        raise GridError(f"{path}: row {rows[k]}: bus {bus_ids.iloc[k]!r} is listed twice; "
                        "give each bus one group")
    if "protected" in df.columns:
        flags = [_flag(v) for v in df["protected"]]
        bad = [k for k, f in enumerate(flags) if f is None]
        if bad:
            raise GridError(f"{path}: row {rows[bad[0]]}: protected "
                            f"{df['protected'].iloc[bad[0]]!r} is not true or false")
        flags_a = np.array(flags, dtype=bool)
    else:
        flags_a = np.zeros(len(df), dtype=bool)
    net = grid.network
    island, lit, load = _lit_load(grid, island, energized)
    listed = np.zeros(net.n_bus, dtype=bool)
    listed[pos] = True
    missing = np.flatnonzero((load > 0) & ~listed)
    if len(missing):
        raise GridError(f"{path}: load bus {net.bus_ids[missing[0]]!r} has no group "
                        f"({len(missing)} load bus(es) missing); give every load bus a group")
    keep = (load[pos] > 0) & lit[pos]
    codes, uniq = pd.factorize(names[keep], sort=False)
    k = len(uniq)
    gprot = np.zeros(k, dtype=bool)
    for j in range(k):
        f = flags_a[keep][codes == j]
        if f.any() and not f.all():
            raise GridError(f"{path}: group {uniq[j]!r} is protected on some rows and not on "
                            "others; give one value per group")
        gprot[j] = bool(f.any())
    pb = pos[keep]
    home = np.zeros(k, dtype=np.int64)
    for j in range(k):
        isl = island[pb[codes == j]]
        w = load[pb[codes == j]]
        home[j] = int(np.unique(isl)[np.argmax([w[isl == u].sum() for u in np.unique(isl)])])
    dark = np.flatnonzero((load > 0) & ~lit)
    return Groups(tuple(str(u) for u in uniq), gprot, home, pb.astype(np.int64),
                  codes.astype(np.int64), np.full(len(pb), WHOLE, dtype=np.int64),
                  np.bincount(codes, weights=net.customers[pb], minlength=k).astype(np.int64),
                  dark, f"{k} groups from {path.name}")
