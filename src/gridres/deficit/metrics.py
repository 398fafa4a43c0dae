"""Metrics of a rotation schedule: pure functions over an hours × groups on/off table.

``off`` is a boolean array of shape (H, G): group ``g`` switched off in hour ``h``. Hours
are one hour long, so counts of hours are hours and MW summed over hours are MWh.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "hours_off",
    "longest_off_h",
    "switching_operations",
    "jain_index",
    "fairness",
]


def hours_off(off: np.ndarray) -> np.ndarray:
    """Hours off of every group, shape (G,).

    Examples
    --------
    >>> import numpy as np
    >>> hours_off(np.array([[1, 0], [1, 1], [0, 1]], dtype=bool)).tolist()
    [2, 2]
    """
    return np.asarray(off, dtype=bool).sum(axis=0)


def longest_off_h(off: np.ndarray) -> np.ndarray:
    """Longest run of consecutive hours off of every group, shape (G,).

    Examples
    --------
    >>> import numpy as np
    >>> longest_off_h(np.array([[1, 0], [1, 1], [0, 0], [1, 1]], dtype=bool)).tolist()
    [2, 1]

    Notes
    -----
    ``O(H G)``.
    """
    off = np.asarray(off, dtype=bool)
    run = np.zeros(off.shape[1], dtype=np.int64)
    best = np.zeros(off.shape[1], dtype=np.int64)
    for row in off:
        run = np.where(row, run + 1, 0)
        best = np.maximum(best, run)
    return best


def switching_operations(off: np.ndarray) -> np.ndarray:
    """Switching operations of every group within the horizon: each switch-off and each
    switch-on counts one (the state before the first hour is on), shape (G,).

    Examples
    --------
    >>> import numpy as np
    >>> switching_operations(np.array([[1, 0], [1, 1], [0, 1]], dtype=bool)).tolist()
    [2, 1]
    """
    off = np.asarray(off, dtype=bool)
    before = np.vstack([np.zeros((1, off.shape[1]), dtype=bool), off])
    return (before[1:] != before[:-1]).sum(axis=0)


def jain_index(values: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Jain's fairness index ``(Σ w x)² / (Σ w · Σ w x²)``: 1 when everyone has the same,
    ``1/n`` when one of ``n`` has it all; 1 when nobody has anything.

    ``weights`` count how many individuals (customers) share each value.

    Examples
    --------
    >>> import numpy as np
    >>> jain_index(np.array([4.0, 4.0, 4.0])), jain_index(np.array([8.0, 0.0]))
    (1.0, 0.5)
    >>> round(jain_index(np.array([8.0, 4.0]), weights=np.array([1, 3])), 4)
    0.8929

    References
    ----------
    R. Jain, D.-M. Chiu and W. Hawe, "A quantitative measure of fairness and
    discrimination for resource allocation in shared computer systems", DEC-TR-301, 1984.
    """
    x = np.asarray(values, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    keep = w > 0
    x, w = x[keep], w[keep]
    sq = float((w * x * x).sum())
    if sq <= 0:
        return 1.0
    return float((w * x).sum() ** 2 / (w.sum() * sq))


def fairness(off: np.ndarray, customers: np.ndarray, protected: np.ndarray) -> dict:
    """Fairness of a schedule over the rotation (unprotected) groups.

    Returns
    -------
    dict
        ``jain_customers`` (Jain's index of hours off per customer), ``jain_groups``
        (of hours off per group), ``spread_h`` (most minus fewest hours off of a group),
        ``max_h``, ``min_h``, ``mean_h_per_customer``, ``customer_hours``.

    Examples
    --------
    >>> import numpy as np
    >>> off = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0]], dtype=bool)
    >>> f = fairness(off, np.array([100, 300, 50]), np.array([False, False, True]))
    >>> f["spread_h"], f["jain_customers"], f["customer_hours"]
    (0, 1.0, 800)
    """
    hrs = hours_off(off)
    rot = ~np.asarray(protected, dtype=bool)
    cust = np.asarray(customers, dtype=float)
    x, w = hrs[rot].astype(float), cust[rot]
    has = len(x) > 0
    total = float((w * x).sum())
    return {
        "jain_customers": jain_index(x, w) if has else 1.0,
        "jain_groups": jain_index(x) if has else 1.0,
        "spread_h": int(x.max() - x.min()) if has else 0,
        "max_h": int(x.max()) if has else 0,
        "min_h": int(x.min()) if has else 0,
        "mean_h_per_customer": float(total / w.sum()) if has and w.sum() > 0 else 0.0,
        "customer_hours": int(round(float((cust * hrs).sum()))),
    }
