"""Explicit outages: scenarios listed by the user, inline or in a CSV/JSON file.

An :class:`ExplicitScenarios` generator holds a fixed list of scenarios. Scenario ``i`` of
an ensemble (``rng = numpy.random.default_rng([seed, i])``) is listed scenario
``i mod count``: :meth:`ExplicitScenarios.sample` reads ``i`` from the last word of the
generator's seed sequence, so the ensemble runner needs no special case; :meth:`at`
gives the same by index. A generator seeded any other way (``default_rng(7)``) samples
listed scenario 0. With one listed scenario every draw is that scenario.

File formats
------------
CSV, one row per failed element::

    scenario,wave_time_h,kind,id
    storm-1,0,branch,L12
    storm-1,0,substation,North
    storm-1,12,bus,7
    storm-2,0,gen,G3

``scenario`` (optional, default one scenario) groups rows into scenarios, in order of
first appearance; ``wave_time_h`` (optional, default 0) groups a scenario's rows into
waves; ``kind`` is ``bus``, ``branch``, ``gen`` or ``substation``; ``id`` the element's
id (a substation's name).

JSON, a list of scenarios (or ``{"scenarios": [...]}``), each with ``waves``, each wave
with ``time_h`` and any of ``buses``, ``branches``, ``gens``, ``substations`` (id lists)
or ``fail`` (element tokens); a scenario may give ``fail`` directly for one wave at 0 h.
This is the form :meth:`gridres.scenarios.base.Scenario.to_ids` writes::

    [{"label": "storm-1",
      "waves": [{"time_h": 0, "branches": ["L12"], "substations": ["North"]},
                {"time_h": 12, "buses": ["7"]}]},
     {"label": "storm-2", "fail": ["gen:G3"]}]
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridres.elements import parse_tokens
from gridres.errors import GridError, InputNotFound, UsageError
from gridres.limits import MAX_NESTING, nesting_depth
from gridres.model import Grid, Network
from gridres.scenarios.base import Scenario, Wave
from gridres.scenarios.elements import check_network

__all__ = [
    "ExplicitScenarios",
    "explicit",
    "read_scenarios",
    "scenarios_from_records",
    "ensemble_index",
]

logger = logging.getLogger(__name__)

_ID_LISTS = {"buses": "bus", "branches": "branch", "gens": "gen", "substations": "substation"}


def ensemble_index(rng: np.random.Generator) -> int | None:
    """Index ``i`` of an ensemble member's generator ``default_rng([seed, i])``: the last
    word of its seed sequence's entropy; ``None`` for a generator seeded otherwise."""
    seq = getattr(rng.bit_generator, "seed_seq", None)
    entropy = getattr(seq, "entropy", None)
    if isinstance(entropy, Sequence) and not isinstance(entropy, str) and len(entropy) >= 2:
        return int(entropy[-1])
    return None


@dataclass(frozen=True, eq=False)
class ExplicitScenarios:
    """A fixed list of scenarios (see the module notes for which one a draw returns).

    Parameters
    ----------
    grid : Grid
        The grid whose element positions the scenarios hold.
    scenarios : tuple of Scenario
        At least one.

    Examples
    --------
    >>> import numpy as np
    >>> from gridres.io import load_grid
    >>> grid = load_grid("ieee14")
    >>> gen = explicit(grid, ["branch:1", "bus:14"])
    >>> sc = gen.sample(grid.network, np.random.default_rng([0, 5]))
    >>> sc.to_ids(grid.network)[0]["buses"]
    ['14']
    """

    grid: Grid
    scenarios: tuple[Scenario, ...]

    def __post_init__(self) -> None:
        if not self.scenarios:
            raise UsageError("an explicit scenario list needs at least one scenario")

    def __len__(self) -> int:
        return len(self.scenarios)

    def at(self, net: Network, i: int) -> Scenario:
        """Listed scenario ``i mod len(self)``."""
        check_network(net, self.grid, "explicit")
        return self.scenarios[int(i) % len(self.scenarios)]

    def sample(self, net: Network, rng: np.random.Generator) -> Scenario:
        """Listed scenario ``i mod len(self)`` for an ensemble member's generator
        ``default_rng([seed, i])``; scenario 0 otherwise. Draws nothing from ``rng``."""
        i = ensemble_index(rng)
        return self.at(net, 0 if i is None else i)


def explicit(grid: Grid, fail: Iterable[str], time_h: float = 0.0, label: str = "") -> ExplicitScenarios:
    """One scenario failing the given elements in one wave.

    Parameters
    ----------
    grid : Grid
    fail : iterable of str
        Element tokens: ``bus:ID``, ``branch:ID``, ``gen:ID``, ``substation:NAME``.
    time_h : float
        Time of the wave, hours.
    label : str

    Returns
    -------
    ExplicitScenarios
    """
    fail = list(fail)
    pos = parse_tokens(fail, grid, where="explicit")
    label = label or ",".join(fail)
    return ExplicitScenarios(grid, (Scenario((Wave(time_h, **pos),), label),))


def _time(value: Any, where: str) -> float:
    try:
        t = float(value)
    except (TypeError, ValueError):
        t = math.nan
    if not math.isfinite(t) or t < 0:
        raise GridError(f"{where}: time_h must be a number of hours >= 0, got {value!r}")
    return t


def scenarios_from_records(records: Any, grid: Grid, where: str = "scenarios") -> tuple[Scenario, ...]:
    """Scenarios from the JSON structure of the module notes (already parsed).

    Raises
    ------
    GridError
        If the structure is not the documented one (the message names the record).
    UsageError
        If an id is unknown.
    """
    if isinstance(records, Mapping) and "scenarios" in records:
        records = records["scenarios"]
    if not isinstance(records, list) or not records:
        raise GridError(f"{where}: expected a non-empty list of scenarios (see `waves`, `fail`)")
    out = []
    for s, rec in enumerate(records):
        here = f"{where}: scenario {s}"
        if not isinstance(rec, Mapping):
            raise GridError(f"{here}: expected an object with 'waves' or 'fail', got {rec!r}")
        waves = rec.get("waves")
        if waves is None:
            if "fail" not in rec:
                raise GridError(f"{here}: give 'waves' (list) or 'fail' (element tokens)")
            waves = [{"time_h": rec.get("time_h", 0.0), "fail": rec["fail"]}]
        if not isinstance(waves, list):
            raise GridError(f"{here}: 'waves' must be a list of objects")
        built = []
        for w, wave in enumerate(waves):
            wh = f"{here} wave {w}"
            if not isinstance(wave, Mapping):
                raise GridError(f"{wh}: expected an object with time_h and id lists")
            unknown = set(wave) - {"time_h", "fail", *_ID_LISTS}
            if unknown:
                raise GridError(
                    f"{wh}: unknown key {sorted(unknown)[0]!r}; use time_h, fail, "
                    + ", ".join(_ID_LISTS)
                )
            tokens = [str(t) for t in wave.get("fail", [])]
            for key, kind in _ID_LISTS.items():
                ids = wave.get(key, [])
                if isinstance(ids, str | int):
                    ids = [ids]
                tokens += [f"{kind}:{i}" for i in ids]
            pos = parse_tokens(tokens, grid, where=wh)
            built.append(Wave(_time(wave.get("time_h", 0.0), wh), **pos))
        out.append(Scenario(tuple(built), str(rec.get("label", s))))
    return tuple(out)


def _read_csv(path: Path, grid: Grid) -> tuple[Scenario, ...]:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise GridError(f"{path}: not a readable CSV of outages ({exc})") from None
    df.columns = [c.strip().lower() for c in df.columns]
    missing = {"kind", "id"} - set(df.columns)
    if missing:
        raise GridError(
            f"{path}: missing column {sorted(missing)[0]!r}; an outage CSV has columns "
            "scenario, wave_time_h, kind, id"
        )
    if df.empty:
        raise GridError(f"{path}: no outage rows")
    if "scenario" not in df.columns:
        df["scenario"] = "0"
    if "wave_time_h" not in df.columns:
        df["wave_time_h"] = "0"
    df["wave_time_h"] = df["wave_time_h"].replace("", "0")
    out = []
    for label in pd.unique(df["scenario"]):
        rows = df[df["scenario"] == label]
        waves = []
        times = [(_time(t, f"{path}: scenario {label!r}"), t) for t in pd.unique(rows["wave_time_h"])]
        for t, raw in times:
            wave_rows = rows[rows["wave_time_h"] == raw]
            # row numbers as a spreadsheet shows them (header is row 1)
            tokens = [f"{k.strip()}:{i.strip()}" for k, i in zip(wave_rows["kind"], wave_rows["id"],
                                                                  strict=True)]
            first = int(wave_rows.index[0]) + 2
            pos = parse_tokens(tokens, grid, where=f"{path}: scenario {label!r} (rows from {first})")
            waves.append(Wave(t, **pos))
        out.append(Scenario(tuple(waves), str(label)))
    return tuple(out)


def read_scenarios(path: str | Path, grid: Grid) -> tuple[Scenario, ...]:
    """Read an outage file (CSV or JSON, see the module notes).

    Raises
    ------
    InputNotFound
        If the file does not exist.
    GridError
        If it is not a valid outage file.
    UsageError
        If it names an element the grid does not have.
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFound(f"{path}: no such outage file (CSV or JSON)")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path, grid)
    if suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise GridError(f"{path}: not valid JSON ({exc})") from None
        except RecursionError:
            data = None
        if data is None or nesting_depth(data) > MAX_NESTING:
            raise GridError(f"{path}: lists or objects nested more than {MAX_NESTING} "
                            "levels deep; an outage file is a list of scenarios")
        return scenarios_from_records(data, grid, where=str(path))
    raise UsageError(f"{path}: unknown outage file type {suffix!r}; use .csv or .json")
