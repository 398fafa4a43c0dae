"""Study files: read, check every value, fill every default, write the resolved study.

A study file is TOML with these sections (see ``grids/studies/*.toml`` for documented
examples)::

    [study]        name, description, seed (required)
    [grid]         source (required), validate
    [scenario]     one scenario spec, or
    [[hazard]]     one or more hazard specs, combined into one event per draw
    [ensemble]     n, workers, scheduler, batch_size
    [cascade]      mode, margin, max_stages
    [restoration]  crews, depots, speed_kmh, road_factor, repair_hours, spares,
                   lead_time_hours, policies, horizon_hours, fuel_trucks,
                   fuel_depots, fuel_stock_l, mobile_generators, ...
    [services]     outside_temp_c, report_hours, facilities
    [plan]         budget, objective, policy, candidates, costs, generate,
                   max_candidates
                   (``[interventions]`` is the same table under another name)
    [demand]       profile, start, season, temperature_c (demand by the hour of the
                   restoration; without it, the static load)
    [deficit]      rotation, groups, block_h, protect, groups_file, method, derate,
                   ties, import_limit_mw, capacity_file (capacity over time, and sharing
                   a deficit by rotating groups)
    [defend]       k, target, objective, protect_budget, top, curve, n_random, budget,
                   exclude, protect, candidates
    [outputs]      dir, html, pdf, gpkg, tables

Relative paths resolve against the study file's folder. :func:`check_study` reports
every problem at once, each with its key path and line, e.g.
``storm.toml:14: restoration.crews: must be >= 1, got -2``.

Exit codes
----------
Invalid study data (syntax, unknown keys, wrong types, values out of range, unknown
policies or ids) is exit code 65, like invalid grid data; unknown keys count as invalid
data, not as command-line usage, because they are in a file. A study file or grid file
that does not exist is 66. When a study has both kinds of problem, 65 wins: the file
must be edited either way.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridres import __version__
from gridres.errors import GridError, InputNotFound, UsageError
from gridres.restoration.policies import needs_priority
from gridres.scenarios.spec import parse_spec
from gridres.study.schema import (
    PLAN_POLICY,
    WORST_CASE,
    CascadeSection,
    Collector,
    DefendSection,
    DeficitSection,
    DemandSection,
    EnsembleSection,
    GridSection,
    OutputsSection,
    PlanSection,
    RestorationSection,
    ServicesSection,
    StudyInfo,
    hazard_path,
    parse_restoration,
    parse_section,
)
from gridres.study.tomltext import dumps, format_path

__all__ = [
    "Problem",
    "Study",
    "folder_name",
    "StudyError",
    "StudyNotFound",
    "StudyCheck",
    "SECTIONS",
    "build_study",
    "resolve_grid_source",
    "ENV_SCENARIOS",
    "scenarios",
]

logger = logging.getLogger(__name__)

#: Top-level tables of a study file and the section class of each.
SECTIONS: dict[str, type | None] = {
    "study": StudyInfo,
    "grid": GridSection,
    "scenario": None,
    "hazard": None,
    "ensemble": EnsembleSection,
    "cascade": CascadeSection,
    "restoration": RestorationSection,
    "services": ServicesSection,
    "plan": PlanSection,
    "interventions": PlanSection,
    "demand": DemandSection,
    "deficit": DeficitSection,
    "defend": DefendSection,
    "outputs": OutputsSection,
}

#: Hazard-spec keys whose string values are file paths (resolved against the study).
_PATH_KEYS = re.compile(r"^(file|path|geometry_file|.*_file|.*_path)$")


@dataclass(frozen=True)
class Problem:
    """One problem of a study file.

    Attributes
    ----------
    file : str
        The study file.
    line : int or None
        Line of the key (or of its table) in the file.
    path : str
        Key path such as ``hazard[0].fragility.beta``; empty for the whole file.
    message : str
        What is wrong and how to fix it.
    exit_code : int
        65 for invalid data, 66 for a file that does not exist.
    """

    file: str
    line: int | None
    path: str
    message: str
    exit_code: int = 65

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class StudyError(GridError):
    """An invalid study (exit code 65); ``problems`` lists every problem."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        more = len(problems) - 1
        tail = (f" (and {more} more; run `gridres check {problems[0].file}` to list them)"
                if more else "")
        super().__init__(f"{problems[0]}{tail}")


class StudyNotFound(InputNotFound):
    """A study whose file or grid does not exist (exit code 66)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(str(problems[0]))


@dataclass(frozen=True)
class Study:
    """A checked study with every default filled in.

    Build with :func:`gridres.study.load_study`. Sections are frozen dataclasses;
    ``hazards`` are the scenario specs as given (one entry per ``[[hazard]]``, or the
    ``[scenario]`` table), with relative file paths resolved; ``plan_section`` is the
    table the plan was given in (``plan`` or ``interventions``). Edit a study with
    :meth:`replace`: a run of the edited study runs the edit, not its file.
    """

    path: Path
    info: StudyInfo
    grid: GridSection
    hazards: tuple[Mapping[str, Any], ...] = ()
    hazard_section: str = "hazard"
    ensemble: EnsembleSection = field(default_factory=EnsembleSection)
    cascade: CascadeSection = field(default_factory=CascadeSection)
    restoration: RestorationSection | None = None
    plan: PlanSection | None = None
    plan_section: str = "plan"
    outputs: OutputsSection = field(default_factory=OutputsSection)
    services: ServicesSection = field(default_factory=ServicesSection)
    demand: DemandSection | None = None
    deficit: DeficitSection | None = None
    defend: DefendSection | None = None

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def seed(self) -> int:
        return self.info.seed

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def grid_spec(self) -> str:
        """What :func:`gridres.io.load_grid` gets: a resolved path, a bundled name or
        ``matpower:NAME``."""
        return resolve_grid_source(self.grid.source, self.folder)

    def results_dir(self, override: str | os.PathLike | None = None) -> Path:
        """Results directory: ``override`` (``--out``), else ``[outputs] dir`` (relative
        to the study file), else ``results/NAME`` in the working directory, never beside
        a study that may sit inside the installed package (the bundled examples)."""
        if override:
            return Path(override)
        if self.outputs.dir:
            return _resolve(self.outputs.dir, self.folder)
        return Path.cwd() / "results" / folder_name(self.name)

    def workers(self, override: int | None = None, *, scheduler: str | None = None,
                trust_scheduler: bool = False) -> tuple[int | None, str | None]:
        """Worker processes and Dask scheduler of a run: ``scheduler`` if given, else
        ``override`` processes if given, else one process for ``serial``, ``None`` (one
        per core) for ``auto``, else ``ensemble.workers``. A ``tcp://`` scheduler that
        the study names is used only with ``trust_scheduler``: Dask exchanges pickles, so
        a study file alone never chooses where this machine sends them (local processes
        run instead, with a warning). No result depends on any of these."""
        e = self.ensemble
        if scheduler is not None:
            return None, scheduler
        if e.scheduler.startswith("tcp://") and not trust_scheduler:
            logger.warning("the study names the Dask scheduler %s; it is not used without "
                           "--trust-study-scheduler (or --scheduler), local processes run "
                           "instead", e.scheduler)
        if override is not None:
            return int(override), None
        if e.scheduler.startswith("tcp://"):
            return None, (e.scheduler if trust_scheduler else None)
        if e.scheduler == "serial":
            return 1, None
        return (None if e.workers == "auto" else int(e.workers)), None

    def replace(self, **changes: Any) -> Study:
        """A copy with whole sections replaced; see also :meth:`with_scenarios`."""
        return dataclasses.replace(self, **changes)

    def with_scenarios(self, n: int) -> Study:
        """The same study with ``n`` scenarios (the resolved file records it)."""
        return self.replace(ensemble=dataclasses.replace(self.ensemble, n=int(n)))

    def to_dict(self) -> dict[str, Any]:
        """The resolved study as plain TOML-ready values, every default filled in."""
        doc: dict[str, Any] = {
            "study": dataclasses.asdict(self.info),
            "grid": {**dataclasses.asdict(self.grid), "source": self.grid_spec},
        }
        if self.hazard_section == "scenario" and len(self.hazards) == 1:
            doc["scenario"] = _plain(self.hazards[0])
        elif self.hazards:
            doc["hazard"] = [_plain(h) for h in self.hazards]
        doc["ensemble"] = dataclasses.asdict(self.ensemble)
        doc["cascade"] = dataclasses.asdict(self.cascade)
        if self.restoration is not None:
            doc["restoration"] = self.restoration.to_dict()
        doc["services"] = dataclasses.asdict(self.services)
        if self.plan is not None:
            doc["plan"] = dataclasses.asdict(self.plan)
        for key in ("demand", "deficit"):
            section = getattr(self, key)
            if section is not None:
                doc[key] = {k: v for k, v in dataclasses.asdict(section).items()
                            if v is not None and v != ""}
        if self.defend is not None:
            doc["defend"] = dataclasses.asdict(self.defend)
        doc["outputs"] = dataclasses.asdict(self.outputs)
        return doc

    def resolved_toml(self) -> str:
        """The study as TOML with every default filled in (``study.resolved.toml``).

        Loading it gives the same study, so a results directory carries what it takes
        to reproduce every number in it.
        """
        header = (f"Resolved from {self.path.name} by gridres {__version__}: every default "
                  "filled in.\nRun it again with: gridres run study.resolved.toml")
        return dumps(self.to_dict(), header=header)


def _plain(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


def folder_name(name: str) -> str:
    """A study name as one safe folder name: path separators, ``..`` and characters
    other than letters, digits, ``.``, ``-``, ``_`` and spaces become ``_``; leading dots
    go (no hidden folder, no way out of ``results/``).

    Examples
    --------
    >>> folder_name("../../../x"), folder_name("/etc/passwd"), folder_name("Storm 2024")
    ('x', 'etc_passwd', 'Storm 2024')
    >>> folder_name(".."), folder_name("a/b:c")
    ('study', 'a_b_c')
    """
    safe = re.sub(r"[^\w.\- ]+", "_", str(name)).strip(". _")[:100]
    return safe if safe and set(safe) != {"."} else "study"


def _resolve(text: str, folder: Path) -> Path:
    p = Path(os.path.expanduser(text))
    return p if p.is_absolute() else (folder / p)


def resolve_grid_source(source: str, folder: Path) -> str:
    """A grid source with a relative file path made absolute against ``folder``;
    bundled names and ``matpower:NAME`` stay as they are."""
    if source.startswith("matpower:"):
        return source
    looks_like_file = (Path(source).suffix.lower() in (".gpkg", ".m")
                       or "/" in source or os.sep in source)
    if looks_like_file:
        return str(_resolve(source, folder).resolve())
    local = folder / source
    if local.exists() and local.is_file():
        return str(local.resolve())
    return source


@dataclass(frozen=True)
class StudyCheck:
    """What :func:`analyse_study` found: the study (None if it could not be built), the
    grid (None unless loaded), the scenario generators and every problem."""

    study: Study | None
    problems: list[Problem]
    grid: Any = None
    generators: tuple[Any, ...] = ()

    @property
    def exit_code(self) -> int:
        if not self.problems:
            return 0
        return 65 if any(p.exit_code == 65 for p in self.problems) else 66


def build_study(path: Path, raw: dict[str, Any], out: Collector) -> Study:
    """The :class:`Study` of a parsed study file; its problems go to ``out`` (every
    value with a problem takes its default, so that every later problem is found too)."""
    for key in raw:
        if key not in SECTIONS:
            close = difflib.get_close_matches(key, list(SECTIONS), n=1, cutoff=0.6)
            hint = (f"did you mean [{close[0]}]?" if close
                    else f"known sections: {', '.join(SECTIONS)}")
            out.add((key,), f"unknown section; {hint}")
    info = parse_section(StudyInfo, raw.get("study"), ("study",), out,
                         extra={"name": path.stem.removesuffix(".resolved")})
    grid = parse_section(GridSection, raw.get("grid"), ("grid",), out)
    if "grid" not in raw:
        out.add(("grid",), "missing [grid] section; add [grid] with source = \"NAME or FILE\"")
    ensemble = parse_section(EnsembleSection, raw.get("ensemble"), ("ensemble",), out)
    cascade = parse_section(CascadeSection, raw.get("cascade"), ("cascade",), out)
    restoration = (parse_restoration(raw["restoration"], ("restoration",), out)
                   if "restoration" in raw else None)
    plan = None
    plan_section = "plan"
    if "plan" in raw and "interventions" in raw:
        out.add(("interventions",), "give either [plan] or [interventions], not both")
    for key in ("plan", "interventions"):
        if key in raw:
            plan_section = key
            policy = (restoration.policies[0] if restoration is not None
                      and restoration.policies else PLAN_POLICY)
            plan = parse_section(PlanSection, raw[key], (key,), out,
                                 extra={"policy": policy})
            given = raw[key].get("policy") if isinstance(raw[key], dict) else None
            if (isinstance(given, str) and needs_priority([given])
                    and not (restoration and restoration.priority)):
                out.add((key, "policy"), "the priority-list policy needs priority = "
                        "[\"branch:ID\", \"bus:ID\", ...] in [restoration]")
    outputs = parse_section(OutputsSection, raw.get("outputs"), ("outputs",), out)
    services = parse_section(ServicesSection, raw.get("services"), ("services",), out)
    defend = (parse_section(DefendSection, raw["defend"], ("defend",), out)
              if "defend" in raw else None)
    if plan is not None and plan.objective == WORST_CASE and defend is None:
        out.add((plan_section, "objective"), "objective worst_case lowers the worst strikes "
                "of a [defend] section; add [defend] with k = ... (and target, objective)")
    hazards, hazard_section = _hazards(path.parent, raw, out)
    demand = deficit = None
    if "demand" in raw:
        demand = parse_section(DemandSection, raw["demand"], ("demand",), out)
        if Path(demand.profile).suffix.lower() in (".csv", ".parquet"):
            demand = dataclasses.replace(
                demand, profile=str(_resolve(demand.profile, path.parent).resolve()))
    if "deficit" in raw:
        deficit = parse_section(DeficitSection, raw["deficit"], ("deficit",), out)
        deficit = dataclasses.replace(deficit, **{
            k: str(_resolve(getattr(deficit, k), path.parent).resolve())
            for k in ("groups_file", "capacity_file") if getattr(deficit, k)})
    for key in ("demand", "deficit"):
        if key in raw and restoration is None:
            out.add((key,), f"[{key}] applies to the restoration of every event; add a "
                    "[restoration] section (or remove this one)")
    return Study(path=path.resolve(), info=info, grid=grid, hazards=hazards,
                 hazard_section=hazard_section, ensemble=ensemble, cascade=cascade,
                 restoration=restoration, plan=plan, plan_section=plan_section,
                 outputs=outputs, services=services, demand=demand, deficit=deficit,
                 defend=defend)


def _hazards(folder: Path, raw: dict[str, Any],
             out: Collector) -> tuple[tuple[dict[str, Any], ...], str]:
    specs: list[dict[str, Any]] = []
    if "scenario" in raw and "hazard" in raw:
        out.add(("scenario",), "give either [scenario] or [[hazard]] tables, not both")
    if "scenario" in raw:
        s = raw["scenario"]
        if not isinstance(s, dict):
            out.add(("scenario",), "must be a table: [scenario] with spec = \"...\" or the "
                    "spec's keys")
        else:
            specs.append(_resolve_paths(s, folder))
    if "hazard" in raw:
        h = raw["hazard"]
        if not isinstance(h, list) or not all(isinstance(x, dict) for x in h):
            out.add(("hazard",), "must be an array of tables: write each as [[hazard]]")
        else:
            specs.extend(_resolve_paths(x, folder) for x in h)
    if not specs:
        out.add(("scenario",), "no scenario: add a [scenario] table or [[hazard]] tables "
                "(see grids/studies/*.toml)")
    section = "scenario" if "scenario" in raw and "hazard" not in raw else "hazard"
    for i, spec in enumerate(specs):
        where = hazard_path(section, i)
        if set(spec) == {"spec"} and isinstance(spec["spec"], str):
            # a spec string: check the fragility parameters it gives (KIND.beta=...)
            try:
                parsed = parse_spec(spec["spec"])
            except ValueError:
                continue
            inner = Collector()
            _check_fragility(parsed, (), inner)
            for p, msg, code in inner.problems:
                out.add((*where, "spec"), f"{format_path(p)}: {msg}", code)
        else:
            _check_fragility(spec, where, out)
    return tuple(specs), section


def _resolve_paths(spec: dict[str, Any], folder: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in spec.items():
        if isinstance(v, dict):
            out[k] = _resolve_paths(v, folder)
        elif isinstance(v, str) and _PATH_KEYS.match(k):
            out[k] = str(_resolve(v, folder).resolve())
        else:
            out[k] = v
    return out


#: Bounds of lognormal fragility parameters: dispersion (beta) of observed fragility
#: curves lies well inside (0, 3]; medians are positive hazard intensities.
BETA_RANGE = (0.0, 3.0)


def _check_fragility(spec: Mapping[str, Any], path: tuple[str | int, ...],
                     out: Collector) -> None:
    """Range checks of lognormal fragility parameters wherever they appear in a hazard
    spec (``beta`` dispersions, ``median*`` intensities), before the scenario module
    sees them, so that their problems carry a line number."""
    for k, v in spec.items():
        p = (*path, k)
        if isinstance(v, Mapping):
            _check_fragility(v, p, out)
        elif isinstance(v, list):
            for i, x in enumerate(v):
                if isinstance(x, Mapping):
                    _check_fragility(x, (*p, i), out)
        elif k == "beta" or k.startswith("beta_"):
            if not _number(v) or not (BETA_RANGE[0] < v <= BETA_RANGE[1]):
                out.add(p, f"fragility dispersion must be in (0, 3], got {v!r}; typical "
                        "values are 0.3 to 0.8")
        elif k == "median" or k.startswith("median_"):
            if not _number(v) or not v > 0:
                out.add(p, f"fragility median must be a positive intensity, got {v!r}")


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


#: Environment variable that overrides every study's ensemble size (CI, quick looks).
ENV_SCENARIOS = "GRIDRES_STUDY_N"


def scenarios(study: Study, n: int | None = None) -> int:
    """Number of scenarios a run of ``study`` draws: ``n`` if given, else the
    ``GRIDRES_STUDY_N`` environment variable, else ``ensemble.n``.

    Raises
    ------
    UsageError
        If the number is not a whole number >= 1.
    """
    env_n = os.environ.get(ENV_SCENARIOS)
    if n is None and env_n:
        try:
            n = int(env_n)
        except ValueError:
            raise UsageError(f"{ENV_SCENARIOS}={env_n!r}: give a whole number of scenarios"
                             ) from None
    n = int(study.ensemble.n if n is None else n)
    if n < 1:
        raise UsageError(f"--scenarios must be >= 1, got {n}")
    return n
