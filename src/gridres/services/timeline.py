"""The input of the service evaluation: when each facility has power.

A :class:`PowerTimeline` is piecewise constant: from ``times_h[k]`` until the next time,
facility ``f`` has grid power where ``on_grid[k, f]`` and power at all (grid or its own
backup) where ``powered[k, f]``. Before the first time everything had power. A
restoration run yields one (its segments, with the instants when backups run dry);
:meth:`PowerTimeline.from_status` builds one from a single instant of the engine (an
``assess`` result): facilities on backup keep power for their ``backup_hours`` and
nothing is repaired.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gridres.errors import UsageError

__all__ = ["PowerTimeline"]


@dataclass(frozen=True, eq=False)
class PowerTimeline:
    """Facility power over time, piecewise constant.

    Attributes
    ----------
    times_h : ndarray, shape (K,)
        Start of each segment (strictly increasing; the first is when the event begins).
    powered : ndarray of bool, shape (K, n_fac)
        Facility with power from the grid or its backup.
    on_grid : ndarray of bool, shape (K, n_fac)
        Facility with grid power (a subset of ``powered``).

    Examples
    --------
    >>> tl = PowerTimeline(np.array([0.0, 5.0]), np.array([[False], [True]]))
    >>> tl.on_grid.tolist()
    [[False], [True]]
    """

    times_h: np.ndarray
    powered: np.ndarray
    on_grid: np.ndarray | None = None

    def __post_init__(self) -> None:
        times = np.asarray(self.times_h, dtype=float).reshape(-1)
        powered = np.asarray(self.powered, dtype=bool)
        if powered.ndim == 1:
            powered = powered.reshape(1, -1)
        if len(times) == 0 or powered.shape[0] != len(times):
            raise UsageError(f"PowerTimeline: {len(times)} times for {powered.shape[0]} "
                             "rows of powered; give one row per time (at least one)")
        if not np.isfinite(times).all() or (np.diff(times) <= 0).any():
            raise UsageError("PowerTimeline: times_h must be finite and strictly increasing")
        on_grid = powered if self.on_grid is None else np.asarray(self.on_grid, dtype=bool)
        on_grid = on_grid.reshape(powered.shape)
        if (on_grid & ~powered).any():
            raise UsageError("PowerTimeline: a facility on grid power must count as powered")
        object.__setattr__(self, "times_h", times)
        object.__setattr__(self, "powered", powered)
        object.__setattr__(self, "on_grid", on_grid)

    @property
    def n_fac(self) -> int:
        return self.powered.shape[1]

    @classmethod
    def from_status(cls, status: np.ndarray, backup_hours: np.ndarray,
                    start_h: float = 0.0) -> PowerTimeline:
        """The timeline of one instant with no repairs.

        Parameters
        ----------
        status : ndarray of str, shape (n_fac,)
            ``"grid"``, ``"backup"`` or ``"dark"`` (``Impact.facility``).
        backup_hours : ndarray, shape (n_fac,)
            Autonomy of each backup (``Network.fac_backup_hours``); a facility on backup
            keeps power that long, ``inf`` for ever.
        start_h : float
            When the event begins.

        Examples
        --------
        >>> tl = PowerTimeline.from_status(np.array(["grid", "backup", "dark"]),
        ...                                np.array([0.0, 8.0, 0.0]))
        >>> tl.times_h.tolist(), tl.powered.tolist()
        ([0.0, 8.0], [[True, True, False], [True, False, False]])
        """
        status = np.asarray(status).astype(str).reshape(-1)
        hours = np.asarray(backup_hours, dtype=float).reshape(status.shape)
        grid = status == "grid"
        backup = status == "backup"
        ends = np.unique(hours[backup & np.isfinite(hours) & (hours > 0)])
        times = np.concatenate([[0.0], ends])
        powered = grid[None, :] | (backup[None, :] & (hours[None, :] > times[:, None]))
        on_grid = np.broadcast_to(grid, powered.shape)
        return cls(times + float(start_h), powered, on_grid)
