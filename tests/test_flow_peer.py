"""DC flows against the peer (MATPOWER's rundcpf through PYPOWER's kernels), and the
low-rank outage update against a fresh factorisation of the post-outage system."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse.linalg as spla

from gridres import flow
from gridres.flow import (
    branch_flows,
    choose_grounds,
    dc_solver,
    shift_injections,
    susceptance_matrix,
)
from gridres.impact import assess
from gridres.io.cases import matpower_case_path
from gridres.topology import components, effective
from peer import matpower_dc_flows

TOL_MW = 1e-6

PEER_CASES = [
    "case5", "case9", "case14", "case30", "case57", "case118", "case300",
    "case_ACTIVSg200", "case_ACTIVSg2000", "case2869pegase", "case_RTS_GMLC",
]


@pytest.mark.parametrize("case", PEER_CASES)
def test_intact_flows_equal_matpower(case, matpower_grid):
    net = matpower_grid(case).network
    peer, on = matpower_dc_flows(str(matpower_case_path(case)))
    imp = assess(net)
    assert on.any()
    assert np.abs(imp.flow_mw[on] - peer[on]).max() < TOL_MW
    assert (imp.flow_mw[~on] == 0.0).all()
    assert imp.shed_total_mw == 0.0


@pytest.mark.parametrize(("case", "taps", "shifts"),
                         [("case300", True, False), ("case2869pegase", True, True),
                          ("case118", True, False)])
def test_peer_cases_exercise_taps_and_shifts(case, taps, shifts, matpower_grid):
    """The peer comparison covers off-nominal taps and phase shifters."""
    g = matpower_grid(case)
    assert bool((g.branches["tap"] != 1.0).any()) is taps
    assert bool((g.branches["shift_deg"] != 0.0).any()) is shifts


# -- outages: the low-rank update equals a fresh factorisation --------------------------


def random_state(net, rng, n_branch=(1, 8), n_bus=(0, 2), n_gen=(0, 3)):
    """The intact state with a random mix of branches, buses and generators failed."""
    k = [min(int(rng.integers(lo, hi + 1)), size)
         for (lo, hi), size in zip((n_branch, n_bus, n_gen), (net.n_branch, net.n_bus, net.n_gen),
                                   strict=True)]
    return net.intact().fail(
        buses=rng.choice(net.n_bus, k[1], replace=False),
        branches=rng.choice(net.n_branch, k[0], replace=False),
        gens=rng.choice(net.n_gen, k[2], replace=False),
    )


def fresh_flows(net, rhs, branch, ground):
    """Flows (MW) from a new factorisation of the post-outage grounded system."""
    theta = spla.splu(susceptance_matrix(net, branch, ground)).solve(rhs)
    return branch_flows(net, theta, branch)


def rank_of(net, branch, ground) -> int:
    base = dc_solver(net).base
    return int((base.branch != branch).sum() + (base.ground != ground).sum())


@pytest.mark.parametrize("case", ["case118", "case300", "case_ACTIVSg2000", "case2869pegase"])
def test_low_rank_update_equals_refactorisation(case, matpower_grid):
    """DCSolver.solve on random outage states (islanding ones included), with balanced
    random injections, against splu of the post-outage matrix."""
    net = matpower_grid(case).network
    rng = np.random.default_rng(7)
    low_rank = split = 0
    for i in range(30):
        big = i % 10 == 9  # every tenth state fails more than MAX_RANK branches
        state = (random_state(net, rng, n_branch=(flow.MAX_RANK + 5, flow.MAX_RANK + 40))
                 if big else random_state(net, rng))
        eff = effective(net, state)
        n_comp, labels = components(net, eff.branch)
        ground = choose_grounds(net, labels, eff)
        rhs = rng.normal(size=net.n_bus)
        rhs -= (np.bincount(labels, weights=rhs, minlength=n_comp) / np.bincount(labels))[labels]
        theta, fac = dc_solver(net).solve(rhs, eff.branch, ground)
        got = branch_flows(net, theta, eff.branch)
        want = fresh_flows(net, rhs, eff.branch, ground)
        assert np.abs(got - want).max() < TOL_MW, (case, i)
        r = rank_of(net, eff.branch, ground)
        assert (fac is dc_solver(net).base) == (r <= flow.MAX_RANK)
        low_rank += fac is dc_solver(net).base
        split += n_comp > int((~eff.bus).sum()) + 1
    assert low_rank >= 20  # the Woodbury path ran...
    assert low_rank <= 27  # ...and so did the refactorisation
    assert split > 0  # and some states split the grid into islands


def engine_reference_flows(imp):
    """Flows rebuilt from an impact's own dispatch and served load, solved with a fresh
    factorisation of the post-outage grid."""
    net = imp.net
    eff = imp.state
    live = eff.branch & imp.energized[net.f]
    inj = (np.bincount(net.gen_bus, weights=imp.gen_mw, minlength=net.n_bus) - imp.served_mw
           - imp.fixed_mw)
    _, pbusinj = shift_injections(net, live)
    _, labels = components(net, eff.branch)
    ground = choose_grounds(net, labels, eff)
    theta = spla.splu(susceptance_matrix(net, eff.branch, ground)).solve(
        inj / net.base_mva - pbusinj)
    return branch_flows(net, theta, live)


@pytest.mark.parametrize("case", ["case118", "case_ACTIVSg2000", "case2869pegase"])
def test_assess_flows_equal_fresh_solve(case, matpower_grid):
    """End to end: assess's flows on random outage states equal a fresh solve with the
    same injections; one in five states fails more than MAX_RANK branches."""
    net = matpower_grid(case).network
    rng = np.random.default_rng(11)
    for i in range(25):
        big = i % 5 == 4
        state = (random_state(net, rng, n_branch=(flow.MAX_RANK + 1, 2 * flow.MAX_RANK))
                 if big else random_state(net, rng))
        imp = assess(net, state)
        assert np.abs(imp.flow_mw - engine_reference_flows(imp)).max() < TOL_MW, (case, i)


def test_cascade_past_max_rank_equals_fresh_assess(matpower_grid):
    """A cascade on case_ACTIVSg2000 that trips more than MAX_RANK branches (so later
    stages update from a refactorised system) ends in the state a fresh assess of its
    final outage gives, flow for flow."""
    net = matpower_grid("case_ACTIVSg2000").network
    # tighten every rating so that an outage cascades widely
    rng = np.random.default_rng(3)
    grid = matpower_grid("case_ACTIVSg2000")
    tight = grid.replace(branches=grid.branches.assign(
        rating_mw=grid.branches["rating_mw"] * 0.55))
    tnet = tight.network
    state = tnet.intact().fail(branches=rng.choice(net.n_branch, 20, replace=False))
    imp = assess(tnet, state, cascade=True)
    tripped = sum(len(s) for s in imp.stages)
    assert len(imp.stages) >= 2 and tripped > flow.MAX_RANK
    again = assess(tnet, imp.state)
    assert not again.overloaded.any()
    assert np.abs(imp.flow_mw - again.flow_mw).max() < TOL_MW
    assert np.abs(imp.flow_mw - engine_reference_flows(imp)).max() < TOL_MW


# -- outages against the peer on a modified case --------------------------------------


def test_branch_outages_equal_matpower_on_modified_case(matpower_grid):
    """Every single-branch outage of case118 that keeps the grid connected, and random
    connected double and triple outages, equal rundcpf on the case with those branches'
    status set to 0."""
    net = matpower_grid("case118").network
    path = str(matpower_case_path("case118"))
    rng = np.random.default_rng(5)
    sets = [[k] for k in range(net.n_branch)]
    sets += [list(rng.choice(net.n_branch, int(rng.integers(2, 4)), replace=False))
             for _ in range(40)]
    checked = 0
    for out in sets:
        imp = assess(net, net.intact().fail(branches=out))
        if imp.n_islands > 1:
            continue
        peer, on = matpower_dc_flows(path, branch_off=out)
        assert not on[out].any()
        assert np.abs(imp.flow_mw[on] - peer[on]).max() < TOL_MW, out
        assert (imp.flow_mw[out] == 0.0).all()
        checked += 1
    assert checked > 150
