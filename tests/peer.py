"""MATPOWER's DC power flow (rundcpf) reproduced with PYPOWER's kernels as shipped by
pandapower: the peer our flows are checked against."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np
from matpowercaseframes import CaseFrames
from pandapower.pypower.dcpf import dcpf
from pandapower.pypower.makeBdc import makeBdc

__all__ = ["matpower_dc_flows"]


@lru_cache(maxsize=8)
def _case(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    cf = CaseFrames(path)
    return (cf.bus.to_numpy(float), cf.branch.to_numpy(float), cf.gen.to_numpy(float),
            float(cf.baseMVA))


def matpower_dc_flows(
    path: str, branch_off: Iterable[int] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """Branch flows (MW, mpc.branch order; NaN for out-of-service rows) and the mask of
    in-service rows, as MATPOWER's ``rundcpf`` computes them for a connected case.

    Parameters
    ----------
    path : str
        A MATPOWER ``.m`` case.
    branch_off : iterable of int
        0-based rows of ``mpc.branch`` whose status is set to 0 first (an outage that
        must leave the case connected).
    """
    bus, branch, gen, base = _case(path)
    bus, branch, gen = bus.copy(), branch.copy(), gen.copy()
    branch[np.asarray(list(branch_off), dtype=np.int64), 10] = 0
    # ext2int: drop isolated buses, off branches and gens; renumber buses 0..n-1
    on_bus = bus[:, 1] != 4
    bus = bus[on_bus]
    num = {int(b): i for i, b in enumerate(bus[:, 0])}
    keep = (branch[:, 10] > 0) & np.array(
        [int(f) in num and int(t) in num for f, t in branch[:, :2]]
    )
    br = branch[keep]
    br[:, 0] = [num[int(v)] for v in br[:, 0]]
    br[:, 1] = [num[int(v)] for v in br[:, 1]]
    bus[:, 0] = np.arange(len(bus))
    g = gen[(gen[:, 7] > 0) & np.array([int(b) in num for b in gen[:, 0]])]
    gb = np.array([num[int(b)] for b in g[:, 0]], dtype=int)
    # makeBdc expects the full MATPOWER column layout of branch (>= 13 columns)
    full = np.zeros((len(br), 21))
    full[:, : br.shape[1]] = br
    fullbus = np.zeros((len(bus), 13))
    fullbus[:, : min(13, bus.shape[1])] = bus[:, :13]
    B, Bf, Pbusinj, Pfinj, *_ = makeBdc(fullbus, full)
    pd = bus[:, 2]
    gs = bus[:, 4]
    pbus = (np.bincount(gb, weights=g[:, 1], minlength=len(bus)) - pd) / base
    ref = np.flatnonzero(bus[:, 1] == 3)
    pv = np.flatnonzero(bus[:, 1] == 2)
    pq = np.flatnonzero(bus[:, 1] == 1)
    va0 = np.deg2rad(bus[:, 8])
    va = dcpf(B, pbus - Pbusinj - gs / base, va0, ref, pv, pq)
    pf = (Bf @ va + Pfinj) * base
    out = np.full(len(branch), np.nan)
    out[keep] = pf
    return out, keep
