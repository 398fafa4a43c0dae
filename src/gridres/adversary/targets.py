"""What the attacker may strike: the candidate elements of one kind, less the protected
and excluded ones.

A *target* is one element a strike destroys: a bus, a branch, a generator or a
substation (all of its in-service buses, the grouping of
:func:`gridres.elements.substations`). The candidates are those of
:func:`gridres.contingency.contingencies` for the kind, named as ``gridres outage --fail``
takes them (``substation:NAME``). ``exclude`` and ``protect`` take element tokens of any
kind: a candidate is out of reach when a strike on it would destroy a named element (so
``--protect bus:B7`` shields the substation that holds bus ``B7``). A token that shields no
candidate is refused, so that a typo or a token of the wrong kind does not pass silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gridres.contingency import contingencies
from gridres.elements import parse_tokens
from gridres.errors import UsageError
from gridres.model import Grid, Network, State
from gridres.topology import effective

__all__ = ["TARGETS", "Targets", "targets"]

#: Kinds of element a strike can destroy.
TARGETS = ("bus", "branch", "gen", "substation")


@dataclass(frozen=True, eq=False)
class Targets:
    """The strikeable candidates of one kind, as ragged lists of network positions.

    Candidate ``c`` fails buses ``bus_idx[bus_ptr[c]:bus_ptr[c + 1]]``, and likewise for
    branches and generators.

    Attributes
    ----------
    kind : str
        One of :data:`TARGETS`.
    names : tuple of str
        ``KIND:ID`` token of every candidate, in the network's order (substations in
        the order of their first bus).
    bus_ptr, bus_idx, branch_ptr, branch_idx, gen_ptr, gen_idx : ndarray of int
        Elements each candidate fails (CSR layout).
    shielded : tuple of str
        Candidates taken out by ``protect`` (their tokens).
    excluded : tuple of str
        Candidates taken out by ``exclude`` (and not by ``protect``).
    """

    kind: str
    names: tuple[str, ...]
    bus_ptr: np.ndarray
    bus_idx: np.ndarray
    branch_ptr: np.ndarray
    branch_idx: np.ndarray
    gen_ptr: np.ndarray
    gen_idx: np.ndarray
    shielded: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.names)

    def elements(self, sets: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        """What a block of strike sets fails.

        Parameters
        ----------
        sets : ndarray of int, shape (m, k)
            Candidate positions, one strike set per row.

        Returns
        -------
        tuple of three (rows, positions) pairs
            For buses, branches and generators: the row of ``sets`` each failed element
            belongs to, and its network position.
        """
        sets = np.asarray(sets, dtype=np.int64)
        rows = np.repeat(np.arange(sets.shape[0]), sets.shape[1])
        flat = sets.ravel()
        return tuple(_gather(ptr, idx, flat, rows) for ptr, idx in (
            (self.bus_ptr, self.bus_idx), (self.branch_ptr, self.branch_idx),
            (self.gen_ptr, self.gen_idx)))

    def state(self, members: Iterable[int], base: State) -> State:
        """``base`` with the candidates ``members`` struck."""
        (_, b), (_, br), (_, g) = self.elements(np.asarray(list(members), dtype=np.int64)[None])
        return base.fail(b, br, g)

    def subset(self, keep: np.ndarray) -> Targets:
        """The candidates where ``keep`` is True, in the same order."""
        keep = np.asarray(keep, dtype=bool)
        parts = []
        for ptr, idx in ((self.bus_ptr, self.bus_idx), (self.branch_ptr, self.branch_idx),
                         (self.gen_ptr, self.gen_idx)):
            lists = [idx[ptr[c]:ptr[c + 1]] for c in np.flatnonzero(keep)]
            parts.extend(_csr(lists))
        names = tuple(n for n, k in zip(self.names, keep, strict=True) if k)
        return Targets(self.kind, names, *parts, self.shielded, self.excluded)

    def touch(self, net: Network) -> sp.csr_matrix:
        """Candidate-by-bus incidence, shape (n_candidates, n_bus): the buses a candidate
        fails, the end buses of the branches it fails and the buses of its generators."""
        rows, cols = [], []
        for c in range(len(self)):
            buses = np.concatenate([
                self.bus_idx[self.bus_ptr[c]:self.bus_ptr[c + 1]],
                net.f[self.branch_idx[self.branch_ptr[c]:self.branch_ptr[c + 1]]],
                net.t[self.branch_idx[self.branch_ptr[c]:self.branch_ptr[c + 1]]],
                net.gen_bus[self.gen_idx[self.gen_ptr[c]:self.gen_ptr[c + 1]]],
            ])
            rows.append(np.full(len(buses), c))
            cols.append(buses)
        rows_a = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        cols_a = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
        m = sp.csr_matrix((np.ones(len(rows_a)), (rows_a, cols_a)), shape=(len(self), net.n_bus))
        m.data[:] = 1.0
        return m


def _gather(ptr: np.ndarray, idx: np.ndarray, flat: np.ndarray,
            rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and elements of the candidates ``flat`` (one row label per entry)."""
    counts = ptr[flat + 1] - ptr[flat]
    total = int(counts.sum())
    if total == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    starts = np.repeat(ptr[flat] - np.cumsum(counts) + counts, counts)
    return np.repeat(rows, counts), idx[starts + np.arange(total)]


def _csr(lists: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(lists) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(x) for x in lists])
    idx = np.concatenate(lists).astype(np.int64) if lists else np.zeros(0, dtype=np.int64)
    return ptr, idx


def targets(
    grid: Grid,
    kind: str = "substation",
    *,
    exclude: Iterable[str] = (),
    protect: Iterable[str] = (),
    state: State | None = None,
) -> Targets:
    """The candidates an attacker may strike.

    Parameters
    ----------
    grid : Grid
    kind : {"bus", "branch", "gen", "substation"}
    exclude, protect : iterable of str
        Element tokens (``bus:ID``, ``branch:ID``, ``gen:ID``, ``substation:NAME``) the
        attacker cannot destroy; a candidate whose strike would destroy one is dropped.
    state : State, optional
        The grid as it stands (default intact): candidates already entirely dead in it
        are dropped (striking them changes nothing).

    Returns
    -------
    Targets

    Raises
    ------
    UsageError
        On an unknown kind, a malformed token, an unknown id, or a token that shields no
        candidate of this kind.

    Examples
    --------
    >>> from gridres.io import load_grid
    >>> t = targets(load_grid("ieee14"), "bus", protect=["bus:1"])
    >>> len(t), t.names[0], t.shielded
    (13, 'bus:2', ('bus:1',))
    """
    if kind not in TARGETS:
        raise UsageError(f"The 'target' parameter of attack must be one of "
                         f"{', '.join(TARGETS)}. Got {kind!r} instead.")
    net = grid.network
    cases = contingencies(grid, kind)
    names = tuple(c.element for c in cases)
    bus_ptr, bus_idx = _csr([c.buses for c in cases])
    branch_ptr, branch_idx = _csr([c.branches for c in cases])
    gen_ptr, gen_idx = _csr([c.gens for c in cases])
    full = Targets(kind, names, bus_ptr, bus_idx, branch_ptr, branch_idx, gen_ptr, gen_idx)
    keep = np.ones(len(full), dtype=bool)
    if state is not None:
        eff = effective(net, state)
        alive = np.zeros(len(full), dtype=bool)
        for (rows, pos), mask in zip(full.elements(np.arange(len(full))[:, None]),
                                     (eff.bus, eff.branch, eff.gen), strict=True):
            np.logical_or.at(alive, rows, mask[pos])
        keep &= alive
    shielded = _blocked(grid, full, protect, "protect")
    excluded = _blocked(grid, full, exclude, "exclude") & ~shielded
    keep &= ~shielded & ~excluded
    out = full.subset(keep)
    return Targets(out.kind, out.names, out.bus_ptr, out.bus_idx, out.branch_ptr,
                   out.branch_idx, out.gen_ptr, out.gen_idx,
                   tuple(n for n, s in zip(names, shielded, strict=True) if s),
                   tuple(n for n, s in zip(names, excluded, strict=True) if s))


def _blocked(grid: Grid, full: Targets, tokens: Iterable[str], option: str) -> np.ndarray:
    """Candidates whose strike would destroy an element named by ``tokens``."""
    net = grid.network
    blocked = np.zeros(len(full), dtype=bool)
    every = full.elements(np.arange(len(full))[:, None])
    for token in tokens:
        named = parse_tokens([token], grid, where=f"--{option}")
        hit = np.zeros(len(full), dtype=bool)
        for (rows, pos), key, size in zip(every, ("buses", "branches", "gens"),
                                          (net.n_bus, net.n_branch, net.n_gen), strict=True):
            mark = np.zeros(size, dtype=bool)
            mark[named[key]] = True
            np.logical_or.at(hit, rows, mark[pos])
        if not hit.any():
            raise UsageError(
                f"--{option} {token}: shields none of the {full.kind} targets; name "
                f"elements a {full.kind} strike destroys (e.g. {full.kind}:ID)"
            )
        blocked |= hit
    return blocked
