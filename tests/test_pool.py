"""The one pool every parallel part of gridres runs on: this process, local processes
or a Dask cluster, with the same results and the cost of parallelism measured."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gridres
from gridres.errors import GridresError, UsageError
from gridres.pool import Pool, guided_sizes, resolve_workers

VALUES = np.arange(1, 101, dtype=np.int64)  # the shared object of the tests


def window_sum(shared: np.ndarray, first: int, last: int) -> int:
    return int(shared[first:last + 1].sum())


def refuse_seven(shared: np.ndarray, first: int, last: int) -> int:
    if first <= 7 <= last:
        raise UsageError(f"item 7 of {first}..{last} refused")
    return int(shared[first:last + 1].sum())


def remember(shared: dict, key: str) -> int:
    """Each worker keeps its shared object between tasks: a count per worker."""
    shared[key] = shared.get(key, 0) + 1
    return shared[key]


TASKS = [(a, min(a + 9, 99)) for a in range(0, 100, 10)]
#: sum of 1..100 in windows of ten: 10 a + 55 for the window starting at value 10 a + 1
EXPECTED = [100 * k + 55 for k in range(10)]


@pytest.fixture(params=["inline", "processes", "dask"])
def backend(request, dask_scheduler):
    if request.param == "inline":
        return {"workers": 1}
    if request.param == "processes":
        return {"workers": 2}
    return {"scheduler": dask_scheduler}


def test_every_backend_gives_the_results_in_order(backend):
    with Pool(VALUES, **backend) as pool:
        got = list(pool.map(window_sum, TASKS))
        assert [task for task, _ in got] == TASKS
        assert [out for _, out in got] == EXPECTED
        unordered = dict(pool.map(window_sum, TASKS, ordered=False))
        assert unordered == dict(zip(TASKS, EXPECTED, strict=True))
        stats = pool.stats
    assert stats.tasks == 20 and stats.busy_s > 0
    assert stats.backend == ("inline" if backend.get("workers") == 1 else
                             "processes" if backend.get("workers") else "dask")
    assert stats.slots == (1 if stats.backend == "inline" else 2)
    assert "20 tasks" in stats.describe()


def test_an_error_in_a_task_keeps_its_class_and_stops_the_map(backend):
    with Pool(VALUES, **backend) as pool:
        seen = []
        with pytest.raises(UsageError, match="item 7 of 0..9 refused"):
            for _, out in pool.map(refuse_seven, [(20, 29), (0, 9), *TASKS[3:]]):
                seen.append(out)
        # in order: only the task before the failing one, 21 + ... + 30 = 255
        assert seen == [255]
        # the pool still works after an error
        assert [out for _, out in pool.map(window_sum, TASKS[:2])] == EXPECTED[:2]


def test_workers_keep_the_shared_object_between_tasks():
    with Pool({}, workers=1) as pool:
        assert [out for _, out in pool.map(remember, [("a",)] * 3)] == [1, 2, 3]
    with Pool({}, workers=2) as pool:
        counts = [out for _, out in pool.map(remember, [("a",)] * 12)]
    # each of the two workers counts its own tasks: together they ran all twelve
    assert sorted(counts)[-1] <= 12 and len(counts) == 12 and 1 in counts


def test_prepare_runs_here_only_before_a_fork(monkeypatch):
    from gridres import pool as pool_module

    built = []
    with Pool(VALUES, workers=1, prepare=built.append):
        pass
    assert built == []  # this process: the tasks build what they need themselves
    with Pool(VALUES, workers=2, prepare=built.append) as pool:
        forked = pool_module.mp_context().get_start_method() == "fork"
        assert [out for _, out in pool.map(window_sum, TASKS[:1])] == EXPECTED[:1]
    assert len(built) == (1 if forked else 0)


def test_bad_workers_and_addresses_are_refused_naming_the_fix():
    assert resolve_workers(None) >= 1
    for bad in (0, -1, 2.5, True, "2"):
        with pytest.raises(UsageError, match="'workers' parameter must be an int >= 1"):
            resolve_workers(bad)
    with pytest.raises(UsageError, match="tcp://HOST:PORT"):
        Pool(VALUES, scheduler="localhost:8786")


def test_a_worker_with_another_gridres_is_refused(monkeypatch):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None,
                                  worker_dashboard_address=None) as cluster:
        # the worker process answers with the installed version; this one claims another
        monkeypatch.setattr(gridres, "__version__", "9.9.9")
        with pytest.raises(GridresError, match=r"has gridres .*, this machine gridres 9\.9\.9 "
                                               r".*pip install 'gridres\[cluster\]==9\.9\.9'"):
            Pool(VALUES, scheduler=cluster.scheduler_address)
        monkeypatch.undo()
        with Pool(VALUES, scheduler=cluster.scheduler_address) as pool:
            assert [out for _, out in pool.map(window_sum, TASKS[:2])] == EXPECTED[:2]


@given(st.integers(0, 5000), st.integers(1, 16), st.integers(1, 600),
       st.one_of(st.none(), st.integers(1, 900)))
def test_guided_sizes_cover_every_item_once_and_shrink(n, slots, least, most):
    sizes = guided_sizes(n, slots, least, most)
    assert sum(sizes) == n
    assert all(1 <= s <= (most or n) for s in sizes)
    floor = least if most is None else min(least, most)
    assert all(s >= floor for s in sizes[:-1])  # only the last task may be short
    assert all(a >= b for a, b in zip(sizes[:-2], sizes[1:-1], strict=True))
