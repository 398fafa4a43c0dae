"""The top-level Python API: every lazy name resolves, and what takes elements takes ids."""

from __future__ import annotations

import numpy as np
import pytest

import gridres


def test_every_public_name_resolves():
    for name in gridres.__all__:
        assert getattr(gridres, name) is not None, name
    assert gridres.plan is gridres.study.plan.run_plan
    assert callable(gridres.cascade.cascade) and callable(gridres.run_ensemble)
    with pytest.raises(AttributeError):
        gridres.no_such_name  # noqa: B018


def test_outages_by_token_equal_outages_by_position():
    grid = gridres.load_grid("ieee14")
    net = grid.network
    k = net.branch_ids.get_loc("7")
    by_pos = gridres.assess(net, net.intact().fail(branches=[k]), cascade=True)
    by_token = gridres.assess(grid, ["branch:7"], cascade=True)
    assert by_token.served_total_mw == by_pos.served_total_mw
    assert np.array_equal(by_token.flow_mw, by_pos.flow_mw)
    cas = gridres.cascade.cascade(grid, "branch:7", mode="redispatch")
    assert cas.served_mw >= by_pos.served_total_mw - 1e-9
    # a substation is its buses: bus 4 of ieee14 is its own substation
    assert gridres.assess(grid, "substation:4").shed_total_mw == \
        gridres.assess(grid, "bus:4").shed_total_mw


def test_restore_and_ensembles_take_tokens_and_specs():
    grid = gridres.load_grid("ieee14")
    settings = gridres.restoration.RestorationSettings(crews=1)
    res = gridres.restore(grid, ["branch:1", "gen:2"], "greedy", settings)
    assert sorted(res.schedule["element"]) == ["branch:1", "gen:2"]
    ens = gridres.run_ensemble(grid, "random:k=1", n=5, seed=2, workers=1)
    assert ens.summary.completed == 5 and (ens.records["n_failed"] == 1).all()
