"""Properties of the service evaluation on random systems: it equals a brute-force greatest
fixed point on a time grid, and more power never leaves anyone with fewer services."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from gridres.model import Grid
from gridres.service_data import SERVICES
from gridres.services import PowerTimeline, compile_services, evaluate_services

HORIZON = 24  # hours; every time and buffer below is a whole number of hours


@st.composite
def systems(draw):
    """Up to 6 facilities in towns A and B with random services, storage, dependencies
    (on facilities, cycles and self-free, or on services) and whole-hour buffers, and a
    random power timeline changing on whole hours."""
    n = draw(st.integers(1, 6))
    facs = []
    for i in range(n):
        deps = []
        for j in draw(st.lists(st.integers(0, n - 1), max_size=3, unique=True)):
            if j != i:
                deps.append(f"facility:F{j}@{draw(st.integers(0, 4))}")
        if draw(st.booleans()):
            deps.append(f"{draw(st.sampled_from(SERVICES))}@{draw(st.integers(0, 4))}")
        facs.append({"id": f"F{i}", "bus": "s", "kind": "other",
                     "service": draw(st.sampled_from(SERVICES)),
                     "town": draw(st.sampled_from(["A", "B"])),
                     "serves": draw(st.sampled_from(["", "A", "B", "*"])),
                     "storage_h": float(draw(st.integers(0, 5))),
                     "depends_on": "; ".join(deps) or "none"})
    cuts = sorted(draw(st.sets(st.integers(1, HORIZON - 1), max_size=4)))
    times = [0, *cuts]
    powered = draw(st.lists(st.lists(st.booleans(), min_size=n, max_size=n),
                            min_size=len(times), max_size=len(times)))
    return facs, np.array(times, dtype=float), np.array(powered, dtype=bool)


def grid_of(facs) -> Grid:
    return Grid(buses=pd.DataFrame({"id": ["s"], "ref": [True]}),
                branches=pd.DataFrame(columns=["id", "from_bus", "to_bus", "x_pu"]),
                facilities=pd.DataFrame(facs),
                towns=pd.DataFrame({"id": ["A", "B"], "population": [100.0, 300.0]}))


def cells(times: np.ndarray, powered: np.ndarray) -> np.ndarray:
    """Power per whole hour ``[k, k + 1)``, shape (HORIZON, n)."""
    row = np.searchsorted(times, np.arange(HORIZON) + 0.5) - 1
    return powered[row]


def window_any(x: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """``out[k, j] = any(x[k - hours[j] .. k, j])`` with everything true before hour 0."""
    pad = np.vstack([np.ones((HORIZON, x.shape[1]), dtype=bool), x])
    return np.array([[pad[HORIZON + k - h: HORIZON + k + 1, j].any()
                      for j, h in enumerate(hours)] for k in range(HORIZON)],
                    dtype=bool).reshape(HORIZON, x.shape[1])


def brute_force(model, power: np.ndarray) -> np.ndarray:
    """Greatest fixed point of the rules over the whole horizon at once, hour by hour,
    iterated down from "everything works"."""
    groups = model.n_groups
    storage = model.storage_h.astype(int)
    buf = model.dep_buffer_h.astype(int)
    works = power.copy()
    while True:
        deliv = window_any(works, storage)
        avail = np.zeros((HORIZON, groups), dtype=bool)
        for g, f in zip(model.member_group, model.member_fac, strict=True):
            avail[:, g] |= deliv[:, f]
        met = window_any(avail[:, model.dep_group], buf)
        new = power.copy()
        for e, f in enumerate(model.dep_fac):
            new[:, f] &= met[:, e]
        if np.array_equal(new, works):
            return deliv
        works = new


def sampled(result, hours: np.ndarray, what: str) -> np.ndarray:
    row = np.searchsorted(result.times_h, hours, side="right") - 1
    return getattr(result, what)[row]


@settings(max_examples=150, deadline=None)
@given(systems())
def test_equals_the_brute_force_fixed_point(system) -> None:
    facs, times, powered = system
    model = compile_services(grid_of(facs))
    res = evaluate_services(model, PowerTimeline(times, powered), end_h=float(HORIZON))
    mid = np.arange(HORIZON) + 0.5
    expected = brute_force(model, cells(times, powered))
    np.testing.assert_array_equal(sampled(res, mid, "delivers"), expected)


@settings(max_examples=150, deadline=None)
@given(systems(), st.data())
def test_more_power_never_means_fewer_people_with_a_service(system, data) -> None:
    facs, times, powered = system
    extra = np.array(data.draw(st.lists(
        st.lists(st.booleans(), min_size=powered.shape[1], max_size=powered.shape[1]),
        min_size=len(times), max_size=len(times))), dtype=bool)
    model = compile_services(grid_of(facs))
    less = evaluate_services(model, PowerTimeline(times, powered), end_h=float(HORIZON))
    more = evaluate_services(model, PowerTimeline(times, powered | extra),
                             end_h=float(HORIZON))
    grid_t = np.union1d(less.times_h, more.times_h)
    assert (sampled(more, grid_t, "delivers") >= sampled(less, grid_t, "delivers")).all()
    out_less = sampled(less, grid_t, "people_without_total")
    out_more = sampled(more, grid_t, "people_without_total")
    assert (out_more <= out_less + 1e-9).all()
    hours_less, hours_more = less.people_hours(), more.people_hours()
    assert all(hours_more[s] <= hours_less[s] + 1e-6 for s in hours_less)
    # nobody lacks a service they do not rely on, and full power means no loss at all
    relying = model.relying.sum(axis=1)
    assert (out_less <= relying + 1e-9).all()
    full = evaluate_services(model, PowerTimeline(times, np.ones_like(powered)),
                             end_h=float(HORIZON))
    assert full.delivers.all() and not full.people_without_total.any()
