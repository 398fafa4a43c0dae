"""The report's methods and assumptions, in words for planners (:func:`methods`), and
the engineering detail behind them, every model choice and parameter, for the appendix
(:func:`engineering`).

The text is written here, as text: what happens to the grid when something fails, what
each restoration policy does and what each parameter means. It says the same as the
design notes of the modules that implement it; a change of a rule changes both.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from gridres.elements import substations
from gridres.report.narrative import (
    READING_GUIDE,
    cascade_words,
    fmt_count,
    fmt_num,
    hazard_text,
)
from gridres.report.strikes import strike_engineering, strike_methods
from gridres.restoration.metrics import METRICS
from gridres.restoration.rotation import ROTATION_SUFFIX
from gridres.results import StudyResults
from gridres.scenarios.footprints import hazards_in
from gridres.topology import grid_summary

__all__ = ["methods", "engineering", "ENGINE_RULES", "RESTORATION_TEXT",
           "RESTORATION_PARAMETERS", "POLICY_TEXT", "POLICY_WORDS", "MEASURES"]

#: How the engine balances an island and dispatches its generators.
ENGINE_RULES = (
    "In every island, the available capacity is the sum of pmax_mw of its alive "
    "generators. An island without capacity is dark. Where demand (load plus shunt "
    "conductance) exceeds capacity, load is shed: lowest bus priority first, load that "
    "feeds critical facilities last, proportionally within a class, and every generator "
    "of the island runs at pmax_mw. Otherwise generators keep their scheduled p_mw and "
    "the island's reference bus (the case's reference bus where the island holds it, "
    "else the bus of its largest generator) takes up the imbalance, as MATPOWER's DC "
    "power flow does; where that would push the reference bus's generators past their "
    "capacity, or a reference that is an island's largest generator below zero, the "
    "island is re-dispatched in proportion to available capacity instead. The case's "
    "reference bus may absorb any surplus, as MATPOWER's slack does (in AC cases the DC "
    "slack is often negative: it carries the losses). Negative loads and shunt "
    "conductance (gs_mw) are fixed injections: never shed, not counted as load. Two "
    "consequences worth knowing: an island whose fixed demand alone exceeds its capacity "
    "collapses (it is dark); an island without the case's reference bus whose negative "
    "loads exceed its demand even with every generator at zero curtails those injections "
    "in proportion. Because shunt demand is never shed, cutting a shunt-heavy bus off can "
    "free capacity and raise the load served elsewhere."
)

#: How a restoration is simulated.
RESTORATION_TEXT = (
    "Restoration: crews, repair times, spare stock, and policies compared. Crews leave "
    "their depots, travel at speed_kmh along roads road_factor times longer than the "
    "straight line, and repair failed elements in the order the policy sets; a repair "
    "that needs a part waits for a spare when the stock is used up. Load comes back when "
    "its bus is reconnected to generation. Each policy is run on the same events."
)

#: What each restoration parameter means.
RESTORATION_PARAMETERS: dict[str, str] = {
    "crews": "Repair crews working at once (default 3).",
    "depots": "Where crews start: bus ids (\"B12\") or (x, y) coordinates in the grid's CRS (lon/lat for EPSG:4326).",
    "speed_kmh": "Average travel speed of a crew (default 40 km/h: utility trucks on a mix of rural and urban roads after a storm, below posted limits).",
    "road_factor": "Road distance over straight-line distance (default 1.3; road-network circuity factors are typically 1.2-1.4, Ballou, Rahardja & Sakai 2002).",
    "line_fixed_h": "Repair hours of a line: line_fixed_h + line_h_per_km × length_km (defaults 4 h + 0.2 h/km, so a 30 km line takes 10 h, the permanent-outage duration the IEEE Reliability Test System (1979) gives for most of its lines).",
    "line_h_per_km": "Repair hours of a line: line_fixed_h + line_h_per_km × length_km (defaults 4 h + 0.2 h/km, so a 30 km line takes 10 h, the permanent-outage duration the IEEE Reliability Test System (1979) gives for most of its lines).",
    "default_line_km": "Length used where length_km is missing, as in MATPOWER cases (default 30 km).",
    "transformer_h": "Hours to replace a transformer with a spare on site (default 72 h).",
    "bus_h": "Hours to repair a failed bus or substation bay (default 24 h; an assumption of one working day for switchgear, not taken from a standard).",
    "generator_h": "Hours to return a failed generating unit (default 50 h, typical of the unit repair times of the IEEE Reliability Test System, 20-150 h).",
    "repair_h": "Per-asset repair hours by element token ({\"branch:L7\": 36.0}).",
    "repair_sigma": "Spread of repair-time uncertainty: each repair's hours are multiplied by a lognormal factor with mean 1 and log-standard deviation repair_sigma, drawn from the simulation's seed (default 0: deterministic).",
    "spare_stock": "Spares on hand at the start, per equipment kind (default 2 transformers).",
    "spare_lead_time_h": "Hours from ordering a spare to its arrival, per kind (default: transformer 768 h, the transformer repair time of the IEEE Reliability Test System (1979), i.e. the time to get a unit back without a spare; bus 168 h; line and generator 72 h).",
    "needs_spare": "Kinds whose repair consumes a spare.",
    "horizon_h": "The simulation stops here even if repairs remain (default 8760 h, a year).",
    "facility_priority": "Rank of each facility kind for critical-first (lower first); kinds not listed rank after every listed kind.",
    "greedy_max_candidates": "greedy evaluates at most this many candidate repairs exactly per decision, the most promising by a bound on the MW they could reconnect (default 60).",
    "optimal_max_jobs": "optimal solves its MILP when at most this many repairs are open (pending or under way) at a planning time; above it falls back to greedy and says so in the result's notes (default 8).",
    "optimal_time_limit_s": "Time limit of one MILP solve (default 60 s); on reaching it the best plan found is used and the notes say so.",
    "fuel_trucks": "Fuel trucks that refill the tanks of facilities' backup generators (default 0: a backup runs for its backup_hours in all). A tank holds backup_hours at the facility's demand.",
    "fuel_depots": "Where fuel trucks load and return after every delivery (default: the crews' depots).",
    "fuel_truck_l": "Litres one truck delivers per trip at most (default 30,000 l, a road tanker).",
    "fuel_stock_l": "Diesel in the depots at the start, shared by every truck (default: no limit); when it is used up no truck leaves again.",
    "fuel_l_per_mwh": "Diesel a backup generator burns per MWh it produces (default 270 l/MWh, about 0.27 l/kWh at full load).",
    "refuel_h": "Hours a truck spends on site to refill a tank (default 1 h).",
    "refuel_call_h": "A facility on its backup calls for fuel when its tank holds this many hours or less (default 24 h); calls are served most urgent first by the nearest free truck.",
    "mobile_generators": "Trailer-mounted generators: rating (MW) and depot; each powers one dark facility whose demand it covers until the grid is back.",
    "mobile_connect_h": "Hours from a mobile generator's arrival on site until it powers the facility (default 2 h).",
    "mobile_dispatch": "Which dark facility a free mobile generator goes to: critical-first (most people who would lose a service), people-per-mw (most such people per MW of demand) or nearest; a policy name CREW/RULE sets it per policy.",
}

#: What each rule of sending mobile generators does (the /RULE of a policy name).
DISPATCH_TEXT: dict[str, str] = {
    "critical-first": "mobile generators go first to the dark facility whose loss costs the most people a service",
    "people-per-mw": "mobile generators go first to the dark facility with the most people relying on it per MW of its demand",
    "nearest": "mobile generators go first to the nearest dark facility they can carry",
}

#: How services over time are judged.
SERVICES_TEXT = (
    "Each critical facility provides a service (water, heat, telecom, health care, "
    "shelter, emergency response) to the towns it serves, and works while it has power "
    "(grid, its backup while the tank holds fuel, or a mobile generator) and the services "
    "it depends on (a hospital on water and telecom, a heating plant on water), each "
    "bridged by a buffer of hours. Its service still reaches people for a while after it "
    "stops: a waterworks' reservoir (12 h unless the grid file says otherwise), telecom "
    "site batteries (2 h), the heat stored in homes, which lasts longer in mild weather "
    "(homes cool from 20 °C to 15 °C with a time constant of 60 h). People without power "
    "are the people of the towns fed by buses without supply. Every number is followed "
    "over the restoration simulation of each event, from the event until power is back."
)

#: What each restoration policy does.
POLICY_TEXT: dict[str, str] = {
    "as-listed": (
        "Jobs in the order the scenario lists them (wave, then buses, branches, generators "
        "in grid order; gridres restore --fail keeps the order given)."),
    "largest-load-first": (
        "Largest dependent load first: the MW lost if the element alone were out (on a "
        "radial feeder, the load downstream of it)."),
    "critical-first": (
        "Repairs that bring critical facilities back first, judged on the current damage. "
        "A facility that had grid power before the event and lacks it now (on backup, on a "
        "mobile generator or dark) needs the cheapest set of repairs that reconnects its "
        "bus to generation: fewest repair hours (spare waits included) over the current "
        "islands, a job under way costing the hours it has left, so that the next crew "
        "takes the next repair of the same set, or a quicker way round a long repair under "
        "way. A job ranks with the most critical facility whose set holds it, by its real "
        "service impact: first the most people who lose a service if it stays without "
        "power (its own service and the services that depend on it), then the fewest "
        "hours before they do (fuel left and the service's storage), then the facility "
        "kind (hospital, emergency, water, telecom, heating, shelter, other; see "
        "facility_priority), then the smallest set. Jobs of equal rank, and jobs in no "
        "facility's set, go by greedy's order. So with meshed damage, where no single "
        "failed element cuts a facility off, its repairs still come first."),
    "greedy": (
        "Most MW reconnected per crew-hour: what the repair would actually reconnect on "
        "top of the current state (jobs under way counted as done), divided by travel + "
        "wait + repair hours. When no single repair reconnects anything (damage in "
        "series), the dependent MW per crew-hour; when nothing depends on any, the "
        "shortest job."),
    "nearest": "Shortest travel plus spare wait first (then the largest dependent load).",
    "optimal": (
        "A plan that minimises energy not served, from a mixed-integer programme over the "
        "open repairs, made at the first decision and again after every wave; greedy "
        "where more repairs are open than optimal_max_jobs or no plan is found in time "
        "(the run's notes say so)."),
    "priority-list": (
        "A planner's list of elements in the order to repair them; unlisted jobs follow "
        "in listing order."),
}


#: What each restoration policy does, in a sentence for planners.
POLICY_WORDS: dict[str, str] = {
    "as-listed": "repairs in the order the damage is listed.",
    "largest-load-first": "repairs first what cuts off the most load.",
    "critical-first": "repairs first what brings hospitals, emergency services, water, "
                      "telecom, heating and shelters back, in that order; then as greedy.",
    "greedy": "repairs next whatever brings the most load back per hour of crew time "
              "(travel and waiting for spares included).",
    "nearest": "sends each crew to the nearest job.",
    "optimal": "plans all repairs at once to keep the energy not served lowest (for small "
               "cases; else as greedy).",
    "priority-list": "follows a planner's list of what to repair first.",
}

#: What each outcome the report shows means, said once.
MEASURES: tuple[tuple[str, str], ...] = (
    ("Load lost (MW)", "the demand without power right after the event (after any "
     "overloads have run their course), in megawatts."),
    ("Customers without power", "electricity customers (households and businesses) whose "
     "supply is cut; where only part of a substation's load is cut, its customers count in "
     "proportion."),
    ("Dark facility", "a critical facility (hospital, water works, heating plant, "
     "telecom site, shelter, emergency service) with neither grid power nor a backup "
     "generator able to carry its demand; a facility on backup counts as dark once the "
     "backup runs out."),
    ("People at dark facilities", "the people a dark facility serves (its catchment), "
     "added up."),
    ("Energy not served (ENS, MWh)", "the electricity customers would have used while "
     "without power: the load lost times the hours until it is back, added up over the "
     "restoration."),
    ("Customer-hours, facility-hours, people-hours", "customers without power, dark "
     "facilities, people at dark facilities, each times the hours it lasts, added up."),
    ("Half of the lost load back (hours)", "from the event until at least half of the "
     "load lost is served again for good; likewise 90 % and all of it. Counted over the "
     "events that lost load only."),
    ("Share of events without supply", "for a substation: the share of the events in "
     "which it has no supply right after the event."),
)


def _flat(d: Any, prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if isinstance(d, dict):
        for k, v in d.items():
            out += _flat(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(d, list) and d and all(isinstance(x, dict) for x in d):
        for i, x in enumerate(d):
            out += _flat(x, f"{prefix}[{i}]")
    else:
        out.append((prefix, _show(d)))
    return out


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list | tuple):
        return ", ".join(_show(x) for x in v) if v else "(none)"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_show(x)}" for k, x in v.items()) if v else "(none)"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v) if v != "" else "(empty)"


def _meaning(section: Any, key: str) -> str:
    """What a study key means: the ``doc`` its section declares for it."""
    return next(f.metadata["doc"] for f in dataclasses.fields(section) if f.name == key)


def _policy_text(texts: dict[str, str], name: str) -> str:
    """What a policy does; a run with rotation (``greedy+rotation``) says so."""
    base = name.removesuffix(ROTATION_SUFFIX)
    text = texts.get(base.split(":", 1)[0].split("/")[0], "")
    rule = base.split("/", 1)[1] if "/" in base else None
    if rule in DISPATCH_TEXT:
        text += f" With /{rule}: {DISPATCH_TEXT[rule]}."
    if base != name:
        text = (text.rstrip(".") + "; " if text else "") + ("a power deficit is shared by "
                                                           "rotating groups of customers "
                                                           "(see Power deficit).")
    return text


def methods(res: StudyResults) -> list[dict[str, Any]]:
    """Sections of the methods chapter, for planners: ``{"title", "paragraphs",
    "items"}`` (``items``: (term, meaning) pairs, or empty)."""
    study = res.study
    g = grid_summary(res.grid)
    out: list[dict[str, Any]] = []
    cust = (f", {fmt_count(g.get('customers'))} customers" if g.get("customers")
            else "; it has no customer data, so customer numbers are n/a")
    out.append({"title": "The grid", "paragraphs": [
        f"The {res.grid.name} grid is modelled as {len(substations(res.grid))} substations "
        f"with {g.get('buses')} busbars, {g.get('branches')} lines and transformers, "
        f"{g.get('generators')} "
        f"generators and {g.get('facilities')} critical facilities, with "
        f"{fmt_num(g.get('total_load_mw'), 'MW')} of demand{cust}. When a substation "
        "fails, everything connected to it fails with it. Where failures cut a part of "
        "the grid off from the rest, that part keeps power only if it has generation of "
        "its own."], "items": []})
    limit, what = cascade_words(study)
    out.append({"title": "What happens when something fails", "paragraphs": [
        "After the failures, every part of the grid that is still connected is checked: "
        "where it has less generation than demand, load is cut, the least important "
        "first and the supply of critical facilities last. Then the flows on the lines "
        "are computed with a simplified model of the grid's physics that engineers use "
        f"for such studies (the DC power flow). A line is overloaded above {limit}; "
        f"then {what}.",
        "Critical facilities without grid power run on their backup generator where it "
        "can carry their demand, for as many hours as its fuel lasts; a facility with "
        "neither is dark."], "items": []})
    text = [f"Each event is {hazard_text(res)}."]
    if _fragility_rows(res):
        text.append("How likely an element is to fail rises with the hazard's strength at "
                    "its place (fragility curves, listed in the appendix).")
    text.append(f"The {res.completed:,} events are drawn at random, each from its own "
                "seed: running the same study file again gives exactly the same numbers, "
                "on any computer and any number of processors.")
    out.append({"title": "The events", "paragraphs": text, "items": []})
    if study.restoration is not None and study.restoration.settings is not None:
        st = study.restoration.settings
        used = [o.policy for o in (res.restoration or {}).values()] or list(
            study.restoration.policies)
        spares = ", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in
                           st.spare_stock.items()) or "none"
        paragraphs = [
            f"{st.crews} repair crew{'s' if st.crews != 1 else ''} work at once. A crew "
            f"drives to the damage at about {fmt_num(st.speed_kmh)} km/h on roads "
            f"{fmt_num(st.road_factor)} times longer than the straight line, then repairs "
            f"it: a line takes {fmt_num(st.line_fixed_h)} hours plus "
            f"{fmt_num(st.line_h_per_km)} hours per kilometre, a transformer "
            f"{fmt_num(st.transformer_h)} hours, a substation {fmt_num(st.bus_h)} hours, a "
            f"generator {fmt_num(st.generator_h)} hours. Spares in stock at the start: "
            f"{spares}; once they are used, a repair waits for an ordered part. Power "
            "comes back to customers as soon as their substation is connected to "
            "generation again.",
            "Each restoration policy is simulated on the same events, with the same "
            "repair times, so that differences between them come from the policy alone. "
            f"The simulation stops after {fmt_num(st.horizon_h)} hours."]
        items = [(p, _policy_text(POLICY_WORDS, p)) for p in used]
        out.append({"title": "Restoration and the policies compared",
                    "paragraphs": paragraphs, "items": items})
    if study.plan is not None:
        out.append({"title": "Interventions", "paragraphs": [
            "Interventions change the grid (a new line, a backup generator, a hardened "
            "substation) or the repair resources; each is evaluated on the same events, "
            "drawn with the same seeds, so that differences come from the intervention "
            "alone."], "items": []})
    out += strike_methods(res)
    out.append({"title": "The measures", "paragraphs": [
        "Every outcome is a number per event; the report summarises them over the events:"],
        "items": list(READING_GUIDE) + list(MEASURES)})
    return out


def engineering(res: StudyResults) -> list[dict[str, Any]]:
    """Sections of the engineering appendix: ``{"title", "text", "rows"}`` where
    ``rows`` are (parameter, value, meaning) triples."""
    study = res.study
    g = grid_summary(res.grid)
    out: list[dict[str, Any]] = []

    out.append({"title": "Grid", "text": (
        "The grid is a table of buses, branches (lines and transformers), generators and "
        "critical facilities. A failed bus takes its branches, loads, generators and "
        "facilities with it; islands are the connected parts of what is left."),
        "rows": [("source", str(study.grid_spec), "where the grid was read from"),
                 ("buses / branches / generators / facilities",
                  f"{g.get('buses')} / {g.get('branches')} / {g.get('generators')} / "
                  f"{g.get('facilities')}", "counts"),
                 ("total load", fmt_num(g.get("total_load_mw"), "MW"), "in-service demand"),
                 ("generating capacity", fmt_num(g.get("total_capacity_mw"), "MW"),
                  "sum of pmax_mw"),
                 ("customers", fmt_num(g.get("customers")), "sum over buses"),
                 ("CRS", str(g.get("crs")), "coordinate reference system"),
                 ("validated", _show(study.grid.validate), "grid checked before the run")]})

    out.append({"title": "Power flow, load shedding and dispatch", "text": (
        "Flows are computed with the DC power-flow approximation: lossless lines, flat "
        "voltage magnitudes and small angle differences, so that B θ = P in every island; "
        "on intact MATPOWER cases the flows equal MATPOWER's DC power flow. "
        + ENGINE_RULES),
        "rows": [("cascade.mode", study.cascade.mode, _meaning(study.cascade, "mode")),
                 ("cascade.margin", f"{study.cascade.margin:g}",
                  _meaning(study.cascade, "margin")),
                 ("cascade.max_stages", str(study.cascade.max_stages),
                  _meaning(study.cascade, "max_stages"))]})

    rows = []
    for i, spec in enumerate(study.hazards):
        tag = "scenario" if study.hazard_section == "scenario" else f"hazard[{i}]"
        rows += [(f"{tag}.{k}", v, "as given in the study file") for k, v in _flat(dict(spec))]
    text = ("Each event is drawn from the scenario generators below. Scenario i of the "
            f"ensemble uses its own random stream numpy.random.default_rng([{study.seed}, i]), "
            "so every number is reproducible from the study file and does not depend on the "
            "number of workers.")
    frag = _fragility_rows(res)
    if frag:
        text += (" Assets fail with lognormal fragility curves P(fail | x) = "
                 "Φ(ln(x / median) / beta) of the hazard intensity x at the asset.")
        rows += frag
    out.append({"title": "Hazards and scenarios", "text": text, "rows": rows})

    out.append({"title": "Ensemble and statistics", "text": (
        "Outcomes are taken right after the last wave of each event (and after the cascade, "
        "when enabled). The mean, the median, the 95th percentile (p95) and the average of "
        "the worst 5 % of events (also called CVaR95) summarise each outcome; restoration "
        "times are summarised over the events that lost load, by their median and 90th "
        "percentile. "
        "The probability of loss of supply of a bus is the fraction of events in which it "
        "has no supply; a substation shows the largest value of its buses. A facility is "
        "dark when it has neither grid supply nor a backup that covers its demand."),
        "rows": [("study.seed", str(study.seed), _meaning(study.info, "seed")),
                 ("ensemble.n", str(study.ensemble.n), _meaning(study.ensemble, "n")),
                 ("events completed", str(res.completed), "events with results"),
                 ("ensemble.workers", _show(study.ensemble.workers),
                  "does not change any result"),
                 ("ensemble.scheduler", study.ensemble.scheduler,
                  "does not change any result"),
                 ("ensemble.batch_size", str(study.ensemble.batch_size),
                  _meaning(study.ensemble, "batch_size") + " Does not change any "
                  "result.")]})

    if study.restoration is not None:
        r = study.restoration
        docs = RESTORATION_PARAMETERS
        used = [o.policy for o in (res.restoration or {}).values()] or list(r.policies)
        rrows = [("restoration.policies", _show(used), "policies compared, on the same "
                  "events and repair times")]
        for k, v in r.to_dict().items():
            if k == "policies":
                continue
            if isinstance(v, dict) and v:
                rrows += [(f"restoration.{k}.{sub}", _show(x), docs.get(k, "") if i == 0
                           else "") for i, (sub, x) in enumerate(v.items())]
            else:
                rrows.append((f"restoration.{k}", _show(v), docs.get(k, "")))
        rrows += [(f"policy {p}", "", _policy_text(POLICY_TEXT, p)) for p in used]
        rrows += [(f"metric {k}", "", v) for k, v in METRICS.items()]
        text = RESTORATION_TEXT
        if "restoration" in res.pending:
            text += f" Not run: {res.pending['restoration']}."
        out.append({"title": "Restoration", "text": text, "rows": rrows})

    if study.restoration is not None:
        sv = study.services
        srows = [("services.outside_temp_c", _show(sv.outside_temp_c),
                  _meaning(sv, "outside_temp_c")),
                 ("services.report_hours", _show(list(sv.report_hours)),
                  _meaning(sv, "report_hours"))]
        srows += [(f"services.facilities.{fid}.{col}", _show(v), "replaces the grid "
                   "file's value") for fid, cols in sv.facilities.items()
                  for col, v in cols.items()]
        out.append({"title": "Services", "text": SERVICES_TEXT, "rows": srows})

    if study.plan is not None:
        p = study.plan
        prow = [(f"plan.{f.name}", _show(getattr(p, f.name)) if f.name != "candidates"
                 else f"{len(p.candidates)} listed", f.metadata["doc"])
                for f in dataclasses.fields(p)]
        text = ("Interventions change the grid (a new line, a backup generator, a hardened "
                "substation); each is evaluated on the same events, drawn with the same "
                "seeds, so differences come from the intervention alone.")
        if res.plan is not None and res.plan.status != "done":
            text += f" Pending: {res.plan.message}"
        out.append({"title": "Interventions and plan", "text": text, "rows": prow})

    out += strike_engineering(res)
    out.append({"title": "Software", "text": "Versions of the software that produced "
                "these numbers.", "rows": [(k, v, "") for k, v in res.versions.items()]})
    return out


def _fragility_rows(res: StudyResults) -> list[tuple[str, str, str]]:
    rows = []
    for i, gen in enumerate(getattr(res, "generators", ()) or ()):
        for _, hz in hazards_in(gen):
            fs = getattr(hz, "fragility", None)
            if fs is None:
                continue
            for kind, curve in fs.curves.items():
                seg = f", per {curve.segment_km:g} km" if curve.segment_km else ""
                rows.append((f"fragility[{i}].{kind}",
                             f"median {curve.median:g} {fs.unit}, beta {curve.beta:g}{seg}",
                             f"lognormal curve ({fs.hazard})"))
    return rows
