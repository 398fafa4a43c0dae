"""Outages per customer: how long each customer is without power, and how equally the
hours are shared.

A restoration records, at every step of its curve, the share of each bus's customers
without power (:func:`bus_out_share`). Customer-hours add those shares up; the
questions a rotation answers need more: who is out for how long in a row, and how
equal the burden is. :func:`customer_outages` answers them from the step curve.

Which customers of a bus are out
--------------------------------
A bus that loses a share ``f`` of its load is taken to have cut a share ``f`` of its
customers, and always the same ones first: the customers out at a smaller share are
among those out at a larger one (an operator sheds whole feeders, in one order, for
as long as the shortage lasts). A customer at position ``q`` in ``[0, 1)`` of its bus
is then without power whenever ``f(t) > q``. A whole group switched off by a rotation
has all its customers out (``f = 1``). A dark bus has ``f = 1``.

Measures
--------
``longest_outage_h``
    The longest continuous outage of any customer (hours).
``mean_longest_outage_h``
    Each customer's longest continuous outage, averaged over the customers who lost
    power at all.
``jain_customers``
    Jain's fairness index of hours without power over every customer supplied before
    the event, :func:`gridres.deficit.metrics.jain_index`: 1 when everyone has as many
    hours (or nobody any), ``1/n`` when one of ``n`` has them all.
``customers_affected``
    Customers who lost power at some time.
"""

from __future__ import annotations

import numpy as np

from gridres.model import Network

__all__ = ["bus_out_share", "customer_outages", "OUTAGE_MEASURES"]

#: The measures of :func:`customer_outages`, in words.
OUTAGE_MEASURES: dict[str, str] = {
    "longest_outage_h": "longest continuous outage of any customer",
    "mean_longest_outage_h": "longest continuous outage per customer, averaged over the "
                             "customers who lost power",
    "jain_customers": "Jain's index of hours without power over customers (1 = equal)",
    "customers_affected": "customers who lost power at some time",
}

#: Shares closer than this are one level (float noise of load ratios).
_LEVEL_TOL = 1e-9


def bus_out_share(net: Network, base_served: np.ndarray, base_energized: np.ndarray,
                  served: np.ndarray, energized: np.ndarray, load_mw: np.ndarray | None = None,
                  switched_mw: np.ndarray | None = None,
                  switched_out: np.ndarray | None = None) -> np.ndarray:
    """Share of each bus's customers without power (0 for buses not counted).

    A bus counts if it was energised in ``base`` (and is in service). It is out entirely
    if it is not energised now or if a rotation switched off the part of its load that
    holds its customers (``switched_out``); otherwise the share is the load it lost
    since ``base`` that no switching explains, over the load that was left on.

    Parameters
    ----------
    net : Network
    base_served, served : ndarray, shape (n_bus,)
        Served load before the event and now (MW).
    base_energized, energized : ndarray of bool, shape (n_bus,)
    load_mw : ndarray, shape (n_bus,), optional
        The bus loads of the moment (default ``net.load_mw``).
    switched_mw : ndarray, shape (n_bus,), optional
        Load switched off by a rotation.
    switched_out : ndarray of bool, shape (n_bus,), optional
        Buses whose customers a rotation switched off.

    Returns
    -------
    ndarray, shape (n_bus,)

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from gridres.model import Grid
    >>> g = Grid(buses=pd.DataFrame({"id": ["a", "b"], "load_mw": [10.0, 20.0],
    ...                              "customers": [100, 200]}),
    ...          branches=pd.DataFrame({"id": ["l"], "from_bus": ["a"], "to_bus": ["b"],
    ...                                 "x_pu": [0.1]}))
    >>> on = np.ones(2, dtype=bool)
    >>> bus_out_share(g.network, np.array([10.0, 20.0]), on, np.array([10.0, 5.0]),
    ...               on).tolist()
    [0.0, 0.75]
    """
    load = np.maximum(net.load_mw if load_mw is None else load_mw, 0.0)
    lost = np.clip(base_served - served, 0.0, None)
    left = load
    if switched_mw is not None:
        lost = np.clip(lost - switched_mw, 0.0, None)
        left = np.clip(load - switched_mw, 0.0, None)
    frac = np.divide(lost, left, out=np.zeros_like(load), where=left > 0)
    frac = np.where(energized, np.minimum(frac, 1.0), 1.0)
    if switched_out is not None:
        frac = np.where(switched_out, 1.0, frac)
    counted = base_energized & net.bus_in_service
    return np.where(counted, frac, 0.0)


def customer_outages(times: np.ndarray, shares: list[tuple[np.ndarray, np.ndarray]],
                     t_end: float, customers: np.ndarray,
                     counted: np.ndarray) -> dict[str, float]:
    """Outage measures per customer from a step curve of bus shares (module notes).

    Parameters
    ----------
    times : ndarray, shape (K,)
        Start of each step (sorted); the last lasts until ``t_end``.
    shares : list of (positions, shares), length K
        The buses with customers out in each step and the share of their customers out
        (the other buses: none).
    t_end : float
    customers : ndarray, shape (n_bus,)
        Customers of every bus.
    counted : ndarray of bool, shape (n_bus,)
        Buses whose customers had power before the event (the population of Jain's
        index).

    Returns
    -------
    dict
        ``longest_outage_h``, ``mean_longest_outage_h``, ``jain_customers``,
        ``customers_affected`` (see the module notes; 0 h and an index of 1 when nobody
        lost power).

    Examples
    --------
    Two buses of 100 customers; bus 0 sheds half its customers for 6 h, bus 1 is dark
    for 2 h of them. Half of bus 0 is out 6 h in a row, bus 1 2 h: 50 · 6 + 100 · 2 =
    500 customer-hours over 200 customers, Σx² = 50 · 36 + 100 · 4 = 2,200, Jain
    500² / (200 · 2,200) = 0.568; 150 customers affected, their longest outages average
    (50 · 6 + 100 · 2) / 150 = 3.33 h.

    >>> import numpy as np
    >>> steps = [(np.array([0, 1]), np.array([0.5, 1.0])), (np.array([0]), np.array([0.5]))]
    >>> m = customer_outages(np.array([0.0, 2.0]), steps, 6.0, np.array([100, 100]),
    ...                      np.array([True, True]))
    >>> m["longest_outage_h"], round(m["mean_longest_outage_h"], 2), round(m["jain_customers"], 3)
    (6.0, 3.33, 0.568)

    Notes
    -----
    ``O(K · L)`` per affected bus, ``L`` its distinct shares.
    """
    times = np.asarray(times, dtype=float)
    cust = np.asarray(customers, dtype=float)
    population = float(cust[np.asarray(counted, dtype=bool)].sum())
    quiet = {"longest_outage_h": 0.0, "mean_longest_outage_h": 0.0, "jain_customers": 1.0,
             "customers_affected": 0.0}
    if not len(times):
        return quiet
    touched = np.unique(np.concatenate([p[v > 0] for p, v in shares]
                                       + [np.zeros(0, dtype=np.int64)])).astype(np.int64)
    touched = touched[cust[touched] > 0]
    if not len(touched):
        return quiet
    dense = np.zeros((len(times), len(touched)))
    col = np.full(len(cust), -1, dtype=np.int64)
    col[touched] = np.arange(len(touched))
    for k, (pos, val) in enumerate(shares):
        keep = col[pos] >= 0
        dense[k, col[pos[keep]]] = val[keep]
    dt = np.maximum(np.diff(np.append(times, float(t_end))), 0.0)
    s1 = s2 = longest_sum = affected = 0.0
    longest = 0.0
    for j, b in enumerate(touched):
        f = np.round(dense[:, j], 12)
        levels = np.unique(f[f > _LEVEL_TOL])
        if not len(levels):
            continue
        width = np.diff(np.r_[0.0, levels])
        on = f[None, :] >= levels[:, None] - _LEVEL_TOL  # (L, K): out at this level
        hours = on.astype(float) @ dt
        c = np.cumsum(on * dt[None, :], axis=1)
        runs = c - np.maximum.accumulate(np.where(on, 0.0, c), axis=1)
        run = runs.max(axis=1)
        n = cust[b]
        s1 += n * float(width @ hours)
        s2 += n * float(width @ hours**2)
        longest_sum += n * float(width @ run)
        affected += n * float(levels[-1])
        longest = max(longest, float(run[0]))
    jain = 1.0 if s2 <= 0 or population <= 0 else s1 * s1 / (population * s2)
    return {"longest_outage_h": longest,
            "mean_longest_outage_h": float(longest_sum / affected) if affected > 0 else 0.0,
            "jain_customers": float(min(jain, 1.0)),
            "customers_affected": float(affected)}
