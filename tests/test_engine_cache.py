"""The solver's column cache and pickling never change a result."""

import pickle

import numpy as np

import gridres.flow as flow
from gridres import assess, load_grid
from gridres.flow import dc_solver


def _states(net, n, seed):
    rng = np.random.default_rng(seed)
    return [net.intact().fail(branches=rng.choice(net.n_branch, 3, replace=False),
                              buses=rng.choice(net.n_bus, 1)) for _ in range(n)]


def test_cached_columns_give_bit_identical_flows(monkeypatch):
    """The same outage assessed cold (empty cache), warm (cache filled by other outages)
    and with caching disabled gives exactly the same flows and dispatch."""
    grid = load_grid("matpower:case118")
    states = _states(grid.network, 40, 3)
    warm = [assess(grid.network, s, cascade=True) for s in states]
    again = [assess(grid.network, s, cascade=True) for s in reversed(states)][::-1]
    monkeypatch.setattr(flow, "CACHE_BYTES", 0)
    cold_grid = load_grid("matpower:case118")
    cold = [assess(cold_grid.network, s, cascade=True) for s in states]
    for a, b, c in zip(warm, again, cold, strict=True):
        assert np.array_equal(a.flow_mw, b.flow_mw)
        assert np.array_equal(a.flow_mw, c.flow_mw)
        assert np.array_equal(a.gen_mw, c.gen_mw)


def test_cache_is_bounded(monkeypatch):
    """With no memory to spare the cache still keeps its floor of 64 columns, never
    more, and evicting columns changes no result."""
    monkeypatch.setattr(flow, "CACHE_BYTES", 0)
    net = load_grid("matpower:case300").network
    states = _states(net, 60, 5)  # 60 x (3 branches + grounds): far more than 64 columns
    flows = [assess(net, s).flow_mw for s in states]
    assert dc_solver(net).base.cached == 64
    fresh = load_grid("matpower:case300").network
    assert all(np.array_equal(a, assess(fresh, s).flow_mw)
               for a, s in zip(flows[:5], states[:5], strict=True))


def test_grid_pickles_after_the_solver_is_built():
    """A factorised grid can be sent to another process: the factorisation is rebuilt
    there and gives the same flows."""
    grid = load_grid("ieee118")
    state = _states(grid.network, 1, 7)[0]
    before = assess(grid.network, state)
    copy = pickle.loads(pickle.dumps(grid))
    after = assess(copy.network, state)
    assert np.array_equal(before.flow_mw, after.flow_mw)
