"""The service model of a grid compiled into arrays: who provides which service to whom,
and who needs what.

:func:`compile_services` reads the towns table and the service columns of the
facilities table (documented in :mod:`gridres.service_data`), fills in the defaults of
each facility's kind and returns an immutable :class:`ServiceModel`. Like
:class:`~gridres.model.Network` for the engine, it is built once per grid and shared by
every evaluation.

People served
-------------
A facility serves the towns of its ``serves`` field. The people of town ``T`` who rely
on facility ``f`` are ``population(T) × coverage(f) / n``, where ``n`` is the number of
facilities that provide the same service to ``T`` (several providers share a town
equally). A facility that serves no town (a grid without towns) serves its own
``people``; they are counted in an area without a town, reported under the id ``""``.
People without power in a town are its population times the share of its buses' people
(their ``population``, or their customers where the town's buses give no population)
whose load is shed.

Dependencies
------------
Every dependency becomes an edge from the dependent facility to a *group* of facilities
and a buffer: for ``facility:ID`` the group is that facility, for a service the
facilities providing that service to the dependent's town. A dependency is available
while at least one member of its group delivers its service. A service dependency that
no facility can meet (nobody provides that service in the town) is not modelled: it is
dropped, and listed in :attr:`ServiceModel.unmet`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gridres.errors import GridError
from gridres.model import Grid
from gridres.service_data import (
    DEFAULT_STORAGE_H,
    KIND_SERVICE,
    SERVICES,
    facility_towns,
    parse_depends,
    parse_serves,
)

__all__ = ["ServiceModel", "compile_services"]

logger = logging.getLogger(__name__)

#: Service code of a facility that provides none.
NO_SERVICE = -1


@dataclass(frozen=True, eq=False)
class ServiceModel:
    """A grid's services as arrays. Build with :func:`compile_services`.

    Facility arrays have shape ``(n_fac,)`` in the order of the grid's facilities (and
    of ``Network.fac_ids``); area arrays ``(n_area,)``: the towns in table order, then
    one area for the people of facilities without a town (id ``""``).

    Attributes
    ----------
    fac_ids : pandas.Index
    area_ids : pandas.Index
        Town ids, then ``""``.
    population : ndarray, shape (n_area,)
        Inhabitants of each town; for the last area, the people of the facilities that
        serve no town.
    service : ndarray of int, shape (n_fac,)
        Position in :data:`~gridres.service_data.SERVICES` of each facility's service,
        -1 for none.
    storage_h : ndarray, shape (n_fac,)
        Hours each service outlasts its facility's stop; NaN where it comes from the
        outside temperature (heat).
    served : scipy.sparse.csr_matrix, shape (n_area, n_fac)
        People of each area who rely on each facility.
    dep_fac, dep_group : ndarray of int, shape (E,)
        Dependent facility and the group it needs, per dependency.
    dep_buffer_h : ndarray, shape (E,)
        Hours the dependent bridges the group's loss.
    member_group, member_fac : ndarray of int, shape (M,)
        Group membership: facility ``member_fac[i]`` is in group ``member_group[i]``.
    n_groups : int
    bus_people : scipy.sparse.csr_matrix, shape (n_bus, n_area)
        People of each town fed by each bus (a town's population shared by its buses).
    unmet : tuple of str
        Service dependencies that no facility provides, as ``"ID: service in town"``.
    """

    fac_ids: pd.Index
    area_ids: pd.Index
    population: np.ndarray
    service: np.ndarray
    storage_h: np.ndarray
    served: sp.csr_matrix
    dep_fac: np.ndarray
    dep_group: np.ndarray
    dep_buffer_h: np.ndarray
    member_group: np.ndarray
    member_fac: np.ndarray
    n_groups: int
    bus_people: sp.csr_matrix
    unmet: tuple[str, ...] = ()

    @property
    def n_fac(self) -> int:
        return len(self.fac_ids)

    @property
    def n_area(self) -> int:
        return len(self.area_ids)

    @cached_property
    def by_service(self) -> sp.csr_matrix:
        """People per facility and (service, area), shape ``(n_fac, S * n_area)``: row
        ``f`` holds ``served[:, f]`` in the block of ``f``'s service."""
        return _by_service(self)

    @cached_property
    def people_served(self) -> np.ndarray:
        """People who rely on each facility's service, shape ``(n_fac,)`` (0 for a
        facility that provides none)."""
        return np.asarray(self.served.sum(axis=0)).ravel()

    @cached_property
    def relying(self) -> np.ndarray:
        """People of each area who rely on each service, shape ``(S, n_area)``."""
        total = np.asarray(self.by_service.sum(axis=0)).ravel()
        return total.reshape(len(SERVICES), self.n_area)

    def services_present(self) -> list[str]:
        """The services some facility provides, in :data:`SERVICES` order."""
        codes = set(self.service[self.service >= 0].tolist())
        return [s for k, s in enumerate(SERVICES) if k in codes]


def _by_service(model: ServiceModel) -> sp.csr_matrix:
    coo = model.served.tocoo()
    s = model.service[coo.col]
    keep = s >= 0
    cols = s[keep] * model.n_area + coo.row[keep]
    return sp.csr_matrix((coo.data[keep], (coo.col[keep], cols)),
                         shape=(model.n_fac, len(SERVICES) * model.n_area))


def _fail(grid: Grid, fid: str, field: str, message: str) -> GridError:
    return GridError(f"{grid.source or grid.name}: facility {fid!r}: {field} {message} (run "
                     "`gridres validate` for every problem)")


def compile_services(grid: Grid) -> ServiceModel:
    """Compile the towns and service columns of ``grid`` into a :class:`ServiceModel`.

    Parameters
    ----------
    grid : Grid

    Returns
    -------
    ServiceModel

    Raises
    ------
    GridError
        On the first bad service field (an unknown service, town or facility, a
        negative buffer); :func:`gridres.validate.check_grid` lists them all.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> model = compile_services(load_grid("demo_region"))
    >>> model.services_present()
    ['water', 'heat', 'telecom', 'health', 'shelter', 'emergency']

    Notes
    -----
    ``O(n_fac + n_town + n_bus)`` array work plus one pass over the facilities' text
    fields.
    """
    facs, towns = grid.facilities, grid.towns
    fac_ids = facs.index
    town_ids = towns.index
    n_town, n_fac = len(town_ids), len(fac_ids)
    area_ids = pd.Index([*town_ids.astype(str), ""], name="id")
    none_area = n_town
    town_pos = {t: k for k, t in enumerate(town_ids.astype(str))}
    fac_pos = {f: k for k, f in enumerate(fac_ids.astype(str))}
    where = facility_towns(grid).to_numpy()

    # services and storage
    kind = facs["kind"].astype(str).to_numpy()
    given = facs["service"].fillna("").astype(str).str.strip().str.lower().to_numpy()
    svc_name = np.where(given == "", [KIND_SERVICE.get(k, "") for k in kind], given)
    code = {s: k for k, s in enumerate(SERVICES)}
    code["none"] = NO_SERVICE
    service = np.empty(n_fac, dtype=np.int64)
    for i, s in enumerate(svc_name):
        if s and s not in code:
            raise _fail(grid, fac_ids[i], "service", f"{s!r} is not one of "
                        f"{', '.join(SERVICES)} (or none)")
        service[i] = code.get(s, NO_SERVICE) if s else NO_SERVICE
    storage = facs["storage_h"].to_numpy(float).copy()
    svc_key = np.where(service >= 0, np.array(SERVICES + ("",))[service], "")
    default = np.array([DEFAULT_STORAGE_H[s] for s in svc_key], dtype=float)
    storage = np.where(np.isnan(storage), default, storage)
    if (storage < 0).any():
        i = int(np.flatnonzero(storage < 0)[0])
        raise _fail(grid, fac_ids[i], "storage_h", f"is {storage[i]:g}; give hours of 0 or "
                    "more")
    coverage = facs["coverage"].to_numpy(float)
    coverage = np.where(np.isnan(coverage), 1.0, coverage)

    # areas served
    pop = towns["population"].to_numpy(float)
    people = facs["people"].to_numpy(float)
    pairs_area: list[int] = []
    pairs_fac: list[int] = []
    for i in np.flatnonzero(service >= 0):
        area = parse_serves(facs["serves"].iloc[i], where[i])
        if area is None:
            pos = list(range(n_town))
        elif not area:
            pos = [none_area]
        else:
            missing = [t for t in area if t not in town_pos]
            if missing:
                raise _fail(grid, fac_ids[i], "serves" if str(facs["serves"].iloc[i]).strip()
                            else "town", f"names town {missing[0]!r}, which is not in the "
                            "towns table")
            pos = [town_pos[t] for t in area]
        pairs_area.extend(pos)
        pairs_fac.extend([int(i)] * len(pos))
    pa = np.asarray(pairs_area, dtype=np.int64)
    pf = np.asarray(pairs_fac, dtype=np.int64)
    # providers of each (service, area) share its people equally
    key = service[pf] * (n_town + 1) + pa
    _, inv, counts = np.unique(key, return_inverse=True, return_counts=True)
    area_pop = np.where(pa == none_area, people[pf], np.append(pop, 0.0)[pa] * coverage[pf])
    share = np.where(pa == none_area, area_pop, area_pop / counts[inv])
    served = sp.csr_matrix((share, (pa, pf)), shape=(n_town + 1, n_fac))
    population = np.append(pop, float(people[pf[pa == none_area]].sum()))

    # dependency groups
    groups: dict[tuple, int] = {}
    members: list[tuple[int, int]] = []
    dep_fac: list[int] = []
    dep_group: list[int] = []
    dep_buf: list[float] = []
    unmet: list[str] = []
    providers: dict[tuple[int, int], list[int]] = {}
    for a, f in zip(pa.tolist(), pf.tolist(), strict=True):
        providers.setdefault((int(service[f]), a), []).append(f)
    for i in range(n_fac):
        try:
            deps = parse_depends(facs["depends_on"].iloc[i], kind[i])
        except ValueError as exc:
            raise _fail(grid, fac_ids[i], "depends_on", str(exc)) from None
        home = town_pos.get(where[i], none_area) if where[i] else none_area
        if where[i] and where[i] not in town_pos:
            raise _fail(grid, fac_ids[i], "town", f"{where[i]!r} is not in the towns table")
        for d in deps:
            if d.facility:
                if d.facility not in fac_pos:
                    raise _fail(grid, fac_ids[i], "depends_on", f"names facility "
                                f"{d.facility!r}, which is not in the facilities table")
                gkey: tuple = ("facility", fac_pos[d.facility])
                group_members = [fac_pos[d.facility]]
            else:
                gkey = ("service", code[d.service], home)
                group_members = providers.get((code[d.service], home), [])
                if not group_members:
                    unmet.append(f"{fac_ids[i]}: {d.service} in "
                                 f"{where[i] or 'the area without towns'}")
                    continue
            if gkey not in groups:
                groups[gkey] = len(groups)
                members.extend((groups[gkey], m) for m in group_members)
            dep_fac.append(i)
            dep_group.append(groups[gkey])
            dep_buf.append(d.buffer_h)
    if unmet:
        logger.debug("%s: service dependencies nobody provides: %s", grid.name,
                     "; ".join(unmet))
    mg = np.array([m[0] for m in members], dtype=np.int64)
    mf = np.array([m[1] for m in members], dtype=np.int64)
    return ServiceModel(
        fac_ids=fac_ids,
        area_ids=area_ids,
        population=population,
        service=service,
        storage_h=storage,
        served=served,
        dep_fac=np.asarray(dep_fac, dtype=np.int64),
        dep_group=np.asarray(dep_group, dtype=np.int64),
        dep_buffer_h=np.asarray(dep_buf, dtype=float),
        member_group=mg,
        member_fac=mf,
        n_groups=len(groups),
        bus_people=_bus_people(grid, town_pos, n_town + 1),
        unmet=tuple(unmet),
    )


def _bus_people(grid: Grid, town_pos: dict[str, int], n_area: int) -> sp.csr_matrix:
    """People of each town per bus: the town's population shared by its buses in
    proportion to their ``population`` (their customers where all are 0)."""
    buses = grid.buses
    town = buses["town"].fillna("").astype(str).to_numpy()
    pos = np.array([town_pos.get(t, -1) for t in town], dtype=np.int64)
    b = np.flatnonzero(pos >= 0)
    if not len(b):
        return sp.csr_matrix((len(buses), n_area))
    a = pos[b]
    w_pop = np.nan_to_num(buses["population"].to_numpy(float)[b]).clip(min=0)
    w_cus = buses["customers"].to_numpy(float)[b].clip(min=0)
    tot_pop = np.bincount(a, weights=w_pop, minlength=n_area)
    tot_cus = np.bincount(a, weights=w_cus, minlength=n_area)
    use_pop = tot_pop[a] > 0
    w = np.where(use_pop, w_pop, w_cus)
    tot = np.where(use_pop, tot_pop[a], tot_cus[a])
    n_of = np.bincount(a, minlength=n_area)
    share = np.where(tot > 0, np.divide(w, tot, out=np.zeros_like(w), where=tot > 0),
                     1.0 / n_of[a])
    town_pop = np.nan_to_num(grid.towns["population"].to_numpy(float)).clip(min=0)
    people = share * town_pop[a]
    return sp.csr_matrix((people, (b, a)), shape=(len(buses), n_area))

