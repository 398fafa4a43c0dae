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
                   lead_time_hours, policies, horizon_hours
    [plan]         budget, objective, policy, candidates, costs, generate,
                   max_candidates
                   (``[interventions]`` is the same table under another name)
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
import logging
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridres.errors import GridError, InputNotFound
from gridres.limits import MAX_NESTING, nesting_depth
from gridres.study.schema import (
    PLAN_POLICY,
    CascadeSection,
    Collector,
    EnsembleSection,
    GridSection,
    OutputsSection,
    PlanSection,
    RestorationSection,
    StudyInfo,
    parse_restoration,
    parse_section,
    plain_message,
)
from gridres.study.tomltext import dumps, format_path, key_lines, line_of

__all__ = [
    "Problem",
    "Study",
    "folder_name",
    "StudyError",
    "StudyCheck",
    "load_study",
    "check_study",
    "analyse_study",
    "SECTIONS",
    "hazard_path",
    "raise_problems",
    "resolve_grid_source",
    "plain_message",
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
    "plan": PlanSection,
    "interventions": PlanSection,
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

    Build with :func:`load_study`. Sections are frozen dataclasses; ``hazards`` are the
    scenario specs as given (one entry per ``[[hazard]]``, or the ``[scenario]`` table),
    with relative file paths resolved.
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
    outputs: OutputsSection = field(default_factory=OutputsSection)

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
        if self.plan is not None:
            doc["plan"] = dataclasses.asdict(self.plan)
        doc["outputs"] = dataclasses.asdict(self.outputs)
        return doc

    def resolved_toml(self) -> str:
        """The study as TOML with every default filled in (``study.resolved.toml``).

        Loading it gives the same study, so a results directory carries what it takes
        to reproduce every number in it.
        """
        from gridres import __version__

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
    notes: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        if not self.problems:
            return 0
        return 65 if any(p.exit_code == 65 for p in self.problems) else 66


def _read(path: Path) -> tuple[str | None, Problem | None]:
    if not path.is_file():
        hint = "" if path.suffix == ".toml" else " (study files end in .toml)"
        return None, Problem(str(path), None, "", f"no such study file{hint}", 66)
    try:
        return path.read_text(encoding="utf-8"), None
    except UnicodeDecodeError as exc:
        return None, Problem(str(path), None, "", f"not UTF-8 text ({exc.reason}); "
                             "save the study as UTF-8", 65)


_TOML_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


def analyse_study(path: str | os.PathLike, *, deep: bool = True) -> StudyCheck:
    """Read and check a study file; collect every problem.

    Parameters
    ----------
    path : str or path-like
        The study file.
    deep : bool
        Also load the grid and check what refers to it (hazard specs, depots,
        policies, interventions). Without it, only the file itself is checked.

    Returns
    -------
    StudyCheck
    """
    path = Path(path)
    text, problem = _read(path)
    if problem:
        return StudyCheck(None, [problem])
    assert text is not None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_POS.search(msg)
        line = int(m.group(1)) if m else None
        msg = _TOML_POS.sub("", msg).strip().rstrip(".")
        if "'\\n'" in msg or "\\n" in msg:
            msg += " (a string or bracket is not closed on this line?)"
        col = f" at column {m.group(2)}" if m else ""
        return StudyCheck(None, [Problem(str(path), line, "",
                                         f"TOML syntax error{col}: {msg}")])
    except RecursionError:
        raw = None
    if raw is None or nesting_depth(raw) > MAX_NESTING:
        return StudyCheck(None, [Problem(str(path), None, "",
                                         f"arrays or tables nested more than {MAX_NESTING} "
                                         "levels deep; a study needs a few levels at most")])
    lines = key_lines(text)
    out = Collector()
    study = _build(path, raw, out)
    grid = None
    generators: tuple[Any, ...] = ()
    notes: list[str] = []
    if deep and study is not None and not any(p[0][:1] == ("grid",) for p in out.problems):
        from gridres.study.semantic import check_against_grid

        grid, generators, notes = check_against_grid(study, raw, out)

    problems = [
        Problem(str(path), line_of(lines, p) or None, format_path(p), msg, code)
        for p, msg, code in out.problems
    ]
    problems.sort(key=lambda p: (p.line or 0))
    return StudyCheck(study, problems, grid, generators, tuple(notes))


def _build(path: Path, raw: dict[str, Any], out: Collector) -> Study | None:
    for key in raw:
        if key not in SECTIONS:
            import difflib

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
    if "plan" in raw and "interventions" in raw:
        out.add(("interventions",), "give either [plan] or [interventions], not both")
    for key in ("plan", "interventions"):
        if key in raw:
            policy = (restoration.policies[0] if restoration is not None
                      and restoration.policies else PLAN_POLICY)
            plan = parse_section(PlanSection, raw[key], (key,), out,
                                 extra={"policy": policy})
            given = raw[key].get("policy") if isinstance(raw[key], dict) else None
            if given == "priority-list" and not (restoration and restoration.priority):
                out.add((key, "policy"), "the priority-list policy needs priority = "
                        "[\"branch:ID\", \"bus:ID\", ...] in [restoration]")
    outputs = parse_section(OutputsSection, raw.get("outputs"), ("outputs",), out)
    hazards, hazard_section = _hazards(path.parent, raw, out)
    return Study(path=path.resolve(), info=info, grid=grid, hazards=hazards,
                 hazard_section=hazard_section, ensemble=ensemble, cascade=cascade, restoration=restoration, plan=plan,
                 outputs=outputs)


def hazard_path(study_or_section: Any, i: int) -> tuple[str | int, ...]:
    """Key path of hazard ``i`` of a study (``scenario`` or ``hazard[i]``)."""
    section = getattr(study_or_section, "hazard_section", study_or_section)
    return ("scenario",) if section == "scenario" else ("hazard", i)


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
                from gridres.scenarios.spec import parse_spec

                parsed = parse_spec(spec["spec"])
            except (ImportError, ValueError):
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


def check_study(path: str | os.PathLike, *, deep: bool = True) -> list[Problem]:
    """Every problem of a study file, in line order (empty: the study is valid).

    Parameters
    ----------
    path : str or path-like
    deep : bool
        Also load the grid and check hazard specs, depots, policies and interventions
        against it.

    Returns
    -------
    list of Problem

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.toml"
    >>> _ = p.write_text('[study]\\nseed = 1\\n[grid]\\nsource = "ieee14"\\n'
    ...                  '[ensemble]\\nn = -5\\n[scenario]\\nkind = "explicit"\\n')
    >>> [str(x).split(": ", 1)[1] for x in check_study(p, deep=False)]
    ['ensemble.n: must be >= 1, got -5']
    """
    return analyse_study(path, deep=deep).problems


def load_study(path: str | os.PathLike, *, deep: bool = False) -> Study:
    """Read a study file and fill every default.

    Parameters
    ----------
    path : str or path-like
    deep : bool
        Also check it against its grid (see :func:`check_study`).

    Returns
    -------
    Study

    Raises
    ------
    StudyError
        If the study has problems (exit code 65); the message is the first problem,
        ``problems`` holds all of them.
    InputNotFound
        If the study file (or, with ``deep``, its grid) does not exist (exit code 66).
    """
    result = analyse_study(path, deep=deep)
    raise_problems(result)
    assert result.study is not None
    return result.study


def raise_problems(result: StudyCheck) -> None:
    """Raise the error that fits ``result``'s problems, if it has any."""
    if not result.problems:
        return
    if result.exit_code == 66:
        raise StudyNotFound(result.problems)
    raise StudyError([p for p in result.problems if p.exit_code == 65])
