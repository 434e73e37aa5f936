"""The house rules, read from the source: one-way imports, no cycles, private modules stay in their room, small modules.

The import graph counts every ``import``/``from ... import`` of a superexplain module anywhere in a
file, inside functions too: a lazy import still ties two modules together.
"""
from __future__ import annotations

import ast
import pathlib

import pytest

import superexplain

PACKAGE = pathlib.Path(superexplain.__file__).parent
MAX_LINES = 300


def _modules() -> dict[str, tuple[pathlib.Path, bool]]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        modules[".".join(parts)] = (path, is_package)
    return modules


MODULES = _modules()


def _imported(module: str, is_package: bool, node: ast.AST) -> list[str]:
    """The superexplain modules an import statement names (``from pkg import sub`` names ``pkg.sub``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level:
        base = base[:len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    return [f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target for alias in node.names]


def _graph() -> dict[str, set[str]]:
    graph = {}
    for module, (path, is_package) in MODULES.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges.update(t for t in _imported(module, is_package, node) if t in MODULES and t != module)
        graph[module] = edges
    return graph


GRAPH = _graph()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    assert _cycles(GRAPH) == []


def _owner(private_module: str) -> str:
    """The package a private module belongs to: everything above its first ``_name`` part."""
    parts = private_module.split(".")
    first = next(i for i, part in enumerate(parts) if part.startswith("_") and part != "__init__")
    return ".".join(parts[:first])


def test_private_modules_are_imported_only_inside_their_own_package():
    crossings = []
    for module, targets in GRAPH.items():
        for target in targets:
            if any(part.startswith("_") for part in target.split(".")[1:]):
                owner = _owner(target)
                if not (module == owner or module.startswith(owner + ".")):
                    crossings.append(f"{module} -> {target}")
    assert crossings == []


def test_the_command_line_uses_public_modules_only():
    """The CLI is a client of the library: it may use its own private modules, none of the library's."""
    crossings = [f"{module} -> {target}" for module, targets in GRAPH.items() if module.startswith("superexplain.cli")
                 for target in targets if not target.startswith("superexplain.cli")
                 and any(part.startswith("_") for part in target.split(".")[1:])]
    assert crossings == []


ROOMS_BELOW = {
    # a room -> rooms it must never import (dependencies point down the flow)
    "superexplain.explanation": ["superexplain.plotting", "superexplain.models", "superexplain.gradcam",
                                 "superexplain.perturbation", "superexplain.metrics", "superexplain.cli"],
    "superexplain._validation": ["superexplain.models", "superexplain.explanation", "superexplain.plotting"],
    "superexplain.models": ["superexplain.gradcam", "superexplain.perturbation", "superexplain.plotting",
                            "superexplain.metrics", "superexplain.sanity", "superexplain.cli", "superexplain.runner"],
    "superexplain.gradcam": ["superexplain.plotting", "superexplain.metrics", "superexplain.sanity",
                             "superexplain.cli", "superexplain.runner", "superexplain.perturbation"],
    "superexplain.perturbation": ["superexplain.plotting", "superexplain.metrics", "superexplain.sanity",
                                  "superexplain.cli", "superexplain.runner", "superexplain.gradcam"],
    "superexplain.plotting": ["superexplain.models", "superexplain.gradcam", "superexplain.perturbation",
                              "superexplain.cli", "superexplain.runner"],
    "superexplain.metrics": ["superexplain.cli", "superexplain.sanity", "superexplain.evaluation"],
    "superexplain.sanity": ["superexplain.cli", "superexplain.evaluation"],
    "superexplain.evaluation": ["superexplain.cli"],
}


@pytest.mark.parametrize("room", sorted(ROOMS_BELOW))
def test_dependencies_point_down_the_flow(room):
    wrong = [f"{module} -> {target}" for module, targets in GRAPH.items()
             if module == room or module.startswith(room + ".")
             for target in targets for forbidden in ROOMS_BELOW[room]
             if target == forbidden or target.startswith(forbidden + ".")]
    assert wrong == []


def test_every_module_is_under_300_lines():
    long = {module: n for module, (path, _) in MODULES.items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_the_readme_method_table_is_the_registry():
    from superexplain.registry import method_table

    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert method_table() in readme


def test_every_registered_method_lives_in_its_family_room_and_names_itself():
    from superexplain.registry import METHODS, method_function

    rooms = {"cam": "superexplain.gradcam.", "gradient": "superexplain.gradcam.",
             "perturbation": "superexplain.perturbation."}
    for name, info in METHODS.items():
        assert info.entry.startswith(rooms[info.family]), name
        function = method_function(name)
        assert function.__name__ == info.entry.split(":")[1]
        # a Keras-only method refuses a plain callable; a model-agnostic one is in the perturbation room
        assert info.needs_keras == (info.family != "perturbation"), name
        # per-image seeds: every perturbation method (its batches share model calls); elsewhere only where seeds matter
        assert not (info.per_image_seeds and info.family != "perturbation" and info.deterministic), name
