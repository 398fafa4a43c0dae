"""Demand over time: load classes, typical shapes, profile files, temperature."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from builders import make_grid
from gridres.deficit.profiles import (
    LOAD_CLASSES,
    FlatProfile,
    TemperatureSensitivity,
    TypicalProfile,
    class_shares,
    get_profile,
    hourly_times,
    read_profile,
    typical_day,
)
from gridres.errors import GridError, InputNotFound, UsageError
from gridres.model import UnknownIdError

DAY = hourly_times("2025-01-06T00:00", 24)  # a Monday in January


def small(load_class=None):
    """Bus h: 10 MW, 5,000 customers, a hospital of 2 MW; bus w: 8 MW, one customer
    (a works); bus e: no load."""
    buses = [{"id": "e", "ref": True}, {"id": "h", "load_mw": 10.0, "customers": 5000},
             {"id": "w", "load_mw": 8.0, "customers": 1}]
    if load_class is not None:
        for b, c in zip(buses, load_class, strict=True):
            b["load_class"] = c
    return make_grid(
        buses,
        [{"id": "l1", "from_bus": "e", "to_bus": "h", "x_pu": 0.1},
         {"id": "l2", "from_bus": "e", "to_bus": "w", "x_pu": 0.1}],
        [{"id": "g", "bus": "e", "p_mw": 18.0, "pmax_mw": 30.0}],
        [{"id": "H1", "bus": "h", "kind": "hospital", "demand_mw": 2.0},
         {"id": "O1", "bus": "h", "kind": "other", "demand_mw": 1.0}],
    )


def test_typical_days_peak_at_one_on_winter_weekdays_and_lower_elsewhere() -> None:
    for c in LOAD_CLASSES:
        wd = typical_day(c, "winter", "weekday")
        assert wd.max() == pytest.approx(1.0)
        for s, d in (("winter", "weekend"), ("summer", "weekday"), ("summer", "weekend")):
            assert typical_day(c, s, d).max() <= 1.0 + 1e-12
    res = typical_day("residential", "winter", "weekday")
    assert res.argmax() in (17, 18, 19)  # the evening peak
    assert res[3] < 0.5  # the night trough
    com = typical_day("commercial", "winter", "weekday")
    assert com[12] > 0.95 and com[3] < 0.35  # open at noon, closed at night
    assert typical_day("commercial", "winter", "weekend").max() < 0.6
    assert (typical_day("critical", "summer", "weekend") == 1.0).all()
    with pytest.raises(UsageError, match="no typical day"):
        typical_day("household", "winter", "weekday")


def test_class_shares_follow_the_documented_rule() -> None:
    g = small()
    s = class_shares(g)
    # h: 2 MW of 10 feed the hospital (the 'other' facility is not protected), the rest
    # is half residential, half commercial: 0.4, 0.4, 0, 0.2
    assert s[1].tolist() == pytest.approx([0.4, 0.4, 0.0, 0.2])
    # w: 8 MW for one customer >= 0.1 MW per customer: industrial
    assert s[2].tolist() == [0.0, 0.0, 1.0, 0.0]
    assert s[0].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_a_load_class_column_takes_names_and_mixes() -> None:
    g = small(["", "residential:0.25,commercial:0.75", "commercial"])
    s = class_shares(g)
    assert s[1].tolist() == pytest.approx([0.2, 0.6, 0.0, 0.2])  # 0.8 x (0.25, 0.75)
    assert s[2].tolist() == [0.0, 1.0, 0.0, 0.0]
    with pytest.raises(GridError, match="add up to 1.2"):
        class_shares(small(["", "residential:0.6,commercial:0.6", ""]))
    with pytest.raises(GridError, match="'resident' is not a class"):
        class_shares(small(["", "resident", ""]))


def test_flat_profile_is_the_static_load() -> None:
    g = small()
    d = FlatProfile().demand(g, DAY)
    assert d.bus_mw.shape == (24, 3)
    assert (d.bus_mw == [0.0, 10.0, 8.0]).all()
    assert (d.critical_mw[:, 1] == 2.0).all()
    assert d.total_mw().tolist() == [18.0] * 24


def test_typical_profile_worked_by_hand() -> None:
    g = small()
    d = TypicalProfile().demand(g, DAY)
    res = typical_day("residential", "winter", "weekday")
    com = typical_day("commercial", "winter", "weekday")
    ind = typical_day("industrial", "winter", "weekday")
    mix = 0.5 * res + 0.5 * com
    # bus h: 2 MW critical (flat) + 8 MW whose half-and-half mix peaks at its load
    assert d.bus_mw[:, 1] == pytest.approx(2.0 + 8.0 * mix / mix.max())
    assert d.bus_mw[:, 2] == pytest.approx(8.0 * ind)
    assert d.bus_mw[:, 1].max() == pytest.approx(10.0)
    # the weekend and summer take their own shapes (6 Jul 2025 is a Sunday)
    summer = TypicalProfile().demand(g, hourly_times("2025-07-06", 24))
    ind_we = typical_day("industrial", "summer", "weekend")
    assert summer.bus_mw[:, 2] == pytest.approx(8.0 * ind_we)


def test_temperature_raises_demand_in_the_cold_and_in_the_heat() -> None:
    g = small()
    base = TypicalProfile("winter", "weekday").demand(g, DAY)
    cold = pd.Series(-8.0, index=DAY)  # 10 degrees below the winter reference of 2 C
    d = TypicalProfile("winter", "weekday", TemperatureSensitivity(cold)).demand(g, DAY)
    # residential and commercial +1 %/degree: the mix part of bus h rises by 10 %
    rest = base.bus_mw[:, 1] - 2.0
    assert d.bus_mw[:, 1] == pytest.approx(2.0 + 1.1 * rest)
    assert d.bus_mw[:, 2] == pytest.approx(1.02 * base.bus_mw[:, 2])  # industry +0.2 %/deg
    with pytest.raises(UsageError, match="no value for"):
        TypicalProfile(temperature=TemperatureSensitivity(cold.iloc[:5])).demand(g, DAY)


def write(tmp_path: Path, text: str, name: str = "p.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_bus_profile_file_in_factors_and_in_mw(tmp_path: Path) -> None:
    g = small()
    times = hourly_times("2025-01-06", 3)
    rows = "\n".join(f"{t.isoformat()},h,{f}" for t, f in zip(times, (0.5, 1.0, 1.5),
                                                               strict=True))
    d = read_profile(write(tmp_path, "time,bus,factor\n" + rows)).demand(g, times)
    assert d.bus_mw[:, 1].tolist() == [5.0, 10.0, 15.0]
    assert d.bus_mw[:, 2].tolist() == [8.0, 8.0, 8.0]  # not listed: static
    assert d.critical_mw[:, 1].tolist() == [2.0, 2.0, 2.0]
    mw = write(tmp_path, "hour,bus,mw\n0,w,1\n1,w,2\n2,w,3\n", "mw.csv")
    assert get_profile(str(mw)).demand(g, times).bus_mw[:, 2].tolist() == [1.0, 2.0, 3.0]


def test_a_class_profile_file(tmp_path: Path) -> None:
    g = small()
    times = hourly_times("2025-01-06", 2)
    path = write(tmp_path, "hour,class,factor\n0,industrial,0.5\n1,industrial,0.25\n")
    d = read_profile(path).demand(g, times)
    assert d.bus_mw[:, 2].tolist() == [4.0, 2.0]
    assert d.bus_mw[:, 1].tolist() == [10.0, 10.0]  # other classes keep their load
    # MW per class spread over the class's buses: industrial is bus w alone
    path = write(tmp_path, "hour,class,mw\n0,industrial,6\n1,industrial,4\n", "c.csv")
    assert read_profile(path).demand(g, times).bus_mw[:, 2].tolist() == [6.0, 4.0]


@pytest.mark.parametrize("text, words", [
    ("time,bus,factor\n2025-01-06T00:00,h,1\n2025-01-06T02:00,h,1\n",
     "no factor for bus 'h' at 2025-01-06 01:00:00; give a row for every hour"),
    ("hour,bus,factor\n0,h,1\n1,h,-0.2\n2,h,1\n", "row 3: factor '-0.2' is negative"),
    ("hour,bus,factor\n0,h,1\n1,h,x\n2,h,1\n", "row 3: factor 'x' is not a number"),
    ("hour,bus,factor\n0,h,1\n0,h,1\n", "row 3: a second row for bus 'h'"),
    ("hour,load,factor\n0,h,1\n", "a profile file has columns time (or hour), bus or class"),
    ("time,bus,factor\nyesterday,h,1\n", "row 2: time 'yesterday' is not a date and time"),
    ("hour,class,factor\n0,households,1\n1,households,1\n2,households,1\n",
     "unknown class 'households'"),
])
def test_bad_profile_files_name_the_row_and_the_fix(tmp_path: Path, text: str,
                                                   words: str) -> None:
    times = hourly_times("2025-01-06", 3)
    with pytest.raises(GridError) as exc:
        read_profile(write(tmp_path, text)).demand(small(), times)
    assert words in str(exc.value)


def test_unknown_buses_and_files_and_names(tmp_path: Path) -> None:
    times = hourly_times("2025-01-06", 1)
    with pytest.raises(UnknownIdError, match="no bus with id 'x'"):
        read_profile(write(tmp_path, "hour,bus,factor\n0,x,1\n")).demand(small(), times)
    with pytest.raises(InputNotFound):
        read_profile(tmp_path / "none.csv")
    with pytest.raises(UsageError, match="did you mean summer"):
        get_profile("sumer")
    with pytest.raises(UsageError, match="not a date"):
        hourly_times("someday", 3)


def test_demand_of_the_demo_region_over_a_week() -> None:
    from gridres.io import load_grid

    g = load_grid("demo_region")
    week = TypicalProfile().demand(g, hourly_times("2025-01-06", 168))
    total = week.total_mw()
    peak = g.buses["load_mw"].sum()
    assert total.max() == pytest.approx(peak, rel=1e-4)  # the winter weekday peak: the load
    assert total[5 * 24:].max() < 0.8 * peak  # the weekend is lower
    assert 0.4 * peak < total.min() < 0.5 * peak  # the night trough
    assert np.all(week.bus_mw >= week.critical_mw - 1e-12)
