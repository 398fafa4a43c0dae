"""Writes the hostile inputs of tests/test_hostile.py into this folder (run it again after
changing a case; the files are committed so that the corpus is plain to read)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent

BUS = """mpc.bus = [
\t1\t3\t0\t0\t0\t0\t1\t1\t0\t230\t1\t1.1\t0.9;
\t2\t1\t{load}\t0\t0\t0\t1\t1\t0\t230\t1\t1.1\t0.9;
\t3\t1\t50\t0\t0\t0\t1\t1\t0\t230\t1\t1.1\t0.9;
];
"""
GEN = """mpc.gen = [
\t1\t{p}\t0\t0\t0\t1\t100\t1\t{pmax}\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0;
];
"""
BRANCH = """mpc.branch = [
\t1\t2\t0\t{x}\t0\t0\t0\t0\t0\t0\t1\t-360\t360;
\t2\t{to}\t0\t0.1\t0\t0\t0\t0\t0\t0\t1\t-360\t360;
];
"""


def case(head="function mpc = hostile\n", base="100", load="100", p="150", pmax="300",
         x="0.1", to="3", bus=None, gen=None, branch=None, extra="") -> str:
    return (head + "mpc.version = '2';\n" + f"mpc.baseMVA = {base};\n"
            + (bus if bus is not None else BUS.format(load=load))
            + (gen if gen is not None else GEN.format(p=p, pmax=pmax))
            + (branch if branch is not None else BRANCH.format(x=x, to=to)) + extra)


SCEN = '[study]\nseed = 1\n[grid]\nsource = "ieee14"\n[scenario]\nspec = "random:k=1"\n'

FILES: dict[str, str | bytes] = {
    # MATPOWER cases
    "ok.m": case(),
    "empty.m": "",
    "no_function.m": case(head=""),
    "no_generators.m": case(gen="mpc.gen = [\n];\n"),
    "no_buses.m": case(bus="mpc.bus = [ ];\n"),
    "no_branches.m": case(branch="mpc.branch = [\n  % nothing here\n];\n"),
    "load_1e999.m": case(load="1e999"),
    "load_inf.m": case(load="Inf"),
    "load_minus_inf.m": case(load="-Inf"),
    "load_nan.m": case(load="NaN"),
    "p_inf.m": case(p="Inf"),
    "x_zero.m": case(x="0"),
    "x_inf.m": case(x="Inf"),
    "branch_to_nowhere.m": case(to="99"),
    "self_loop.m": case(to="2"),
    "base_negative.m": case(base="-100"),
    "base_text.m": case(base="'abc'"),
    "words_in_matrix.m": case(load="hello"),
    "unclosed_matrix.m": case(bus="mpc.bus = [\n\t1\t3\t0\t0\t0\t0\t1\t1\t0\t230\t1\t1.1\t0.9;\n"),
    "divide_by_zero.m": case(load="1/0"),
    "binary.m": bytes(range(256)) * 4,
    # files that are not grids
    "not_a_grid.txt": "root:x:0:0:root:/root:/bin/bash\n",
    "garbage.gpkg": "this is not a GeoPackage\n",
    "zero_bytes.gpkg": b"",
    "not_gis.geojson": "{ not json",
    # study files (the grid is the bundled ieee14 unless said otherwise)
    "syntax.toml": "[study\nseed = 1\n",
    "deep_arrays.toml": ('[study]\nseed = 1\n[grid]\nsource = "ieee14"\n[scenario]\n'
                         'spec = "random:k=1"\n[outputs]\nx = ' + "[" * 3000 + "]" * 3000
                         + "\n"),
    "unknown_section.toml": SCEN + '[grdi]\nx = 1\n',
    "seed_negative.toml": SCEN.replace("seed = 1", "seed = -1"),
    "seed_text.toml": SCEN.replace("seed = 1", 'seed = "one"'),
    "n_zero.toml": SCEN + '[ensemble]\nn = 0\n',
    "n_huge.toml": ('[study]\nseed = 1\n[grid]\nsource = "ieee14"\n[scenario]\n'
                    'spec = "random:k=1"\n[ensemble]\nn = 1000000000000\n'),
    "source_passwd.toml": SCEN.replace("ieee14", "not_a_grid.txt"),
    "source_missing.toml": SCEN.replace("ieee14", "nowhere.m"),
    "source_folder.toml": SCEN.replace('"ieee14"', '"."'),
    "binary.toml": b"\x00\x01\x02[study]\xff\xfe\n",
    "scheduler_ftp.toml": SCEN + '[ensemble]\nscheduler = "ftp://example.org"\n',
    "bad_policy.toml": ('[study]\nseed = 1\n[grid]\nsource = "ieee14"\n[scenario]\n'
                        'spec = "random:k=1"\n[restoration]\npolicies = ["rm -rf /"]\n'),
    "bad_spec.toml": ('[study]\nseed = 1\n[grid]\nsource = "ieee14"\n[scenario]\n'
                      'spec = "nonsense:x=1"\n'),
    "workers_zero.toml": SCEN + '[ensemble]\nworkers = 0\n',
    "duplicate_key.toml": SCEN.replace("seed = 1", "seed = 1\nseed = 2"),
    "grid_not_grid.toml": SCEN.replace("ieee14", "garbage.gpkg"),
    # scenario and outage files
    "outages_deep.json": "[" * 5000 + "]" * 5000,
    "outages_garbage.json": "{[}",
    "outages_not_list.json": '"branch:1"',
    "outages_unknown.csv": "scenario,kind,id\n0,branch,99999\n",
    "outages_binary.csv": bytes(range(256)),
    "outages_no_columns.csv": "a,b\n1,2\n",
    "outages_deep_spec.json": '{"kind": "random", "k": ' + "[" * 900 + "]" * 900 + "}",
    # restoration priority files
    "priority_unknown.txt": "branch:99999\n",
    "priority_words.txt": "please repair everything quickly\n",
    "priority_binary.txt": bytes(range(256)),
    "priority_empty.txt": "",
}


def main() -> None:
    for name, content in FILES.items():
        path = HERE / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


if __name__ == "__main__":
    main()
