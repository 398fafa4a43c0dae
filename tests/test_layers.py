"""The order of the house: gridres modules import downward only, and never in a cycle.

Every import counts, those inside functions too. A new top-level module or package gets
a row in LAYERS (its place in DESIGN.md's order); the test names what is missing.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

#: Layer of every top-level module or package (``io.atomic``, ``io.folder`` and
#: ``io.jsondoc`` are the file utilities below the model; the grid readers of ``io``
#: build Grids, above it).
#: A module may import its own layer and the layers below.
LAYERS: dict[str, int] = {
    "errors": 0, "tolerances": 0, "limits": 0, "pool": 0, "io.atomic": 0, "io.folder": 0,
    "io.jsondoc": 0,
    "model": 1,
    "io": 2, "elements": 2, "service_data": 2,
    "topology": 3, "flow": 3, "sensitivity": 3, "impact": 3, "cascade": 3,
    "superposition": 3, "contingency": 3, "validate": 3,
    "scenarios": 4,
    "ensemble": 5, "restoration": 5, "redundancy": 5, "adversary": 5, "deficit": 5,
    "services": 5,
    "results": 6,
    "study": 7,
    "report": 8,
    "cli": 9, "__main__": 9,
}


def _modules() -> dict[str, Path]:
    out = {}
    for f in (SRC / "gridres").rglob("*.py"):
        parts = list(f.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _imports(modules: dict[str, Path]) -> set[tuple[str, str]]:
    """(importer, imported) pairs between gridres modules."""

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    edges = set()
    for mod, f in modules.items():
        package = f.name == "__init__.py"
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = mod.split(".") if package else mod.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            else:
                continue
            for t in targets:
                r = resolve(t) if t.startswith("gridres") else None
                # the root package and a module's own package are not imports of a layer
                if r and r not in (mod, "gridres") and not mod.startswith(r + "."):
                    edges.add((mod, r))
    return edges


def _layer(module: str) -> int | None:
    parts = module.split(".")[1:]
    for n in (2, 1):
        key = ".".join(parts[:n])
        if len(parts) >= n and key in LAYERS:
            return LAYERS[key]
    return None


def test_every_module_has_a_layer():
    missing = sorted(m for m in _modules() if m != "gridres" and _layer(m) is None)
    assert missing == [], f"give these a layer in LAYERS: {missing}"


def test_imports_run_downward():
    up = sorted(f"{a} -> {b}" for a, b in _imports(_modules())
                if (_layer(a) or 0) < (_layer(b) or 0))
    assert up == [], "imports against the order of the house:\n" + "\n".join(up)


def test_no_import_cycles():
    graph: dict[str, set[str]] = {m: set() for m in _modules()}
    for a, b in _imports(_modules()):
        graph[a].add(b)
    # Tarjan's strongly connected components, iteratively
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    cycles.append(" <-> ".join(sorted(comp)))
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)
