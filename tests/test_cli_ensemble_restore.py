"""``gridres ensemble ... --restore``: the policy comparison in the JSON document equals
a direct computation with :func:`gridres.restoration.compare` on the same scenarios
(scenario ``i`` from ``default_rng([seed, i])``), does not depend on the number of
workers, and bad policy options are one-line usage errors."""

from __future__ import annotations

import contextlib
import io
import json
import math
from collections import Counter

import numpy as np
import pytest
from scipy.stats import t as student_t

from gridres.cli import cli
from gridres.cli.common import run_cli
from gridres.io import load_grid
from gridres.restoration import RestorationSettings, compare
from gridres.scenarios.spec import scenario_from_spec

GRID = "demo_region"
SPEC = "circle:lon=13.6,lat=48.4,radius_km=40"
N, SEED, CREWS, SIGMA = 24, 3, 2, 0.3
POLICIES = ("greedy", "critical-first", "largest-load-first")
METRICS = ("ens_mwh", "customer_hours", "facility_hours_dark", "service_people_hours_power",
           "service_people_hours_water", "service_people_hours_heat",
           "service_people_hours_telecom", "service_people_hours_health", "longest_outage_h",
           "jain_customers")
ROW_KEYS = {"policy", "n", "mean", "p95", "diff", "ci_low", "ci_high"}


def run(*args: str) -> tuple[int, str, str]:
    """Run the CLI in-process as the console script does: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_cli(cli, [str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def one_line_error(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def ensemble_args(workers: int, *extra: str) -> list[str]:
    return ["ensemble", GRID, "--scenario", SPEC, "--n", str(N), "--seed", str(SEED),
            "--workers", str(workers), "--restore", "--crews", str(CREWS),
            "--repair-sigma", str(SIGMA), *[a for p in POLICIES for a in ("--policy", p)],
            *extra, "--json"]


@pytest.fixture(scope="module")
def direct(tmp_path_factory):
    """Scenarios drawn as the ensemble draws them, a priority file naming the elements
    they fail most often (the least frequent first), and every policy's metrics per
    scenario from :func:`compare` with the repair times drawn from the same stream."""
    grid = load_grid(GRID)
    net = grid.network
    gen = scenario_from_spec(SPEC, grid)
    scenarios, rngs = [], []
    for i in range(N):
        rng = np.random.default_rng([SEED, i])
        scenarios.append(gen.sample(net, rng))
        rngs.append(rng)
    counts = Counter(f"branch:{net.branch_ids[p]}" for sc in scenarios for w in sc.waves
                     for p in w.branches)
    priority = [e for e, _ in sorted(counts.items(), key=lambda kv: (kv[1], kv[0]))][:8]
    path = tmp_path_factory.mktemp("prio") / "order.txt"
    path.write_text("# least often failed first\n" + "\n".join(priority) + "\n")
    settings = RestorationSettings(crews=CREWS, repair_sigma=SIGMA)
    names = (*POLICIES, "priority-list")
    values = {(m, p): [] for m in METRICS for p in names}
    for sc, rng in zip(scenarios, rngs, strict=True):
        res = compare(grid, sc, names, settings, seed=rng, priority=priority)
        for (m, p), v in values.items():
            v.append(res[p].metrics[m])
    return path, names, {k: np.array(v) for k, v in values.items()}


@pytest.fixture(scope="module")
def one_worker(direct):
    path, _, _ = direct
    return run(*ensemble_args(1, "--priority-file", path))


def test_json_equals_the_direct_computation(direct, one_worker):
    _, names, values = direct
    code, out, _ = one_worker
    assert code == 0
    doc = json.loads(out)
    rest = doc["restoration"]
    assert rest["baseline"] == "greedy"
    assert set(rest["metrics"]) == set(METRICS)
    for metric in METRICS:
        rows = rest["metrics"][metric]
        assert [r["policy"] for r in rows] == list(names)
        base = values[(metric, "greedy")]
        for r in rows:
            assert set(r) == ROW_KEYS
            x = values[(metric, r["policy"])]
            assert r["n"] == N
            assert r["mean"] == pytest.approx(x.mean(), rel=1e-9, abs=1e-9)
            assert r["p95"] == pytest.approx(np.quantile(x, 0.95), rel=1e-9, abs=1e-9)
            d = x - base
            assert r["diff"] == pytest.approx(d.mean(), rel=1e-9, abs=1e-9)
            if r["policy"] == "greedy":
                assert r["diff"] == 0.0 and r["ci_low"] is None and r["ci_high"] is None
                continue
            half = student_t.ppf(0.975, N - 1) * d.std(ddof=1) / math.sqrt(N)
            if half == 0:
                assert r["ci_low"] == pytest.approx(d.mean()) == r["ci_high"]
            else:
                assert r["ci_low"] == pytest.approx(d.mean() - half, rel=1e-9, abs=1e-9)
                assert r["ci_high"] == pytest.approx(d.mean() + half, rel=1e-9, abs=1e-9)


def test_the_policies_are_told_apart(direct, one_worker):
    # critical-first ranks repairs by the facilities they bring back, not by the load
    # that depends on each element alone: on this meshed storm damage it must not
    # collapse into largest-load-first
    _, _, values = direct
    cf, llf = (values[("ens_mwh", p)] for p in ("critical-first", "largest-load-first"))
    assert (cf != llf).any()
    rows = {r["policy"]: r for r in json.loads(one_worker[1])["restoration"]["metrics"]["ens_mwh"]}
    assert rows["critical-first"]["mean"] != rows["largest-load-first"]["mean"]


@pytest.mark.slow
def test_two_workers_give_the_same_document(direct, one_worker):
    path, _, _ = direct
    code, out, _ = run(*ensemble_args(2, "--priority-file", path))
    assert code == 0
    one, two = json.loads(one_worker[1]), json.loads(out)
    for doc in (one, two):
        for key in ("elapsed_s", "n_run", "out", "n_resumed"):
            doc.pop(key, None)
    assert two == one


def test_default_policy_is_greedy_alone():
    code, out, _ = run("ensemble", GRID, "--scenario", SPEC, "--n", "3", "--seed",
                       "1", "--workers", "1", "--restore", "--json")
    assert code == 0
    rest = json.loads(out)["restoration"]
    assert rest["baseline"] == "greedy"
    for metric in METRICS:
        [row] = rest["metrics"][metric]
        assert row["policy"] == "greedy" and row["n"] == 3 and row["diff"] == 0.0


def test_unknown_policy_is_a_one_line_usage_error():
    code, out, err = run("ensemble", GRID, "--scenario", SPEC, "--n", "2", "--seed",
                         "1", "--workers", "1", "--restore", "--policy", "greedy",
                         "--policy", "critcal-first", "--json")
    assert code == 2 and out == ""
    line = one_line_error(err)
    assert "critcal-first" in line and "critical-first" in line


@pytest.mark.parametrize("extra", [["--policy", "greedy"], ["--priority-file", "order.txt"]])
def test_policy_options_without_restore_are_usage_errors(extra):
    code, out, err = run("ensemble", GRID, "--scenario", SPEC, "--n", "2", "--seed",
                         "1", "--workers", "1", *extra, "--json")
    assert code == 2 and out == ""
    assert "--restore" in one_line_error(err)


def test_priority_file_errors(tmp_path):
    base = ["ensemble", GRID, "--scenario", SPEC, "--n", "2", "--seed", "1", "--workers", "1",
            "--restore", "--json", "--priority-file"]
    code, out, err = run(*base, tmp_path / "missing.txt")
    assert code == 66 and out == ""
    assert "missing.txt" in one_line_error(err)
    bad = tmp_path / "bad.txt"
    bad.write_text("branch:L1\nnot a token\n")
    code, out, err = run(*base, bad)
    assert code == 2 and out == ""
    line = one_line_error(err)
    assert "bad.txt" in line and "line 2" in line
