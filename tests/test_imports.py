"""The rooms' doors, read from the source with `ast`.

- No import circle between the project's modules. Imports under `if TYPE_CHECKING:` are
  for type checkers only and do not count; imports inside functions do.
- Inside agent/, imports run down the floors: the package's door (agent/__init__.py),
  then chat, then planning / lineage / jobs, then reading, then the shared leaves
  (ops.py, prompts.py). Nothing imports a room above it or beside it.
- chat_app.py and app/ talk only to the agent's door (and mtedit.settings);
  editing_core and storage never import each other or the agent.

    python tests/test_imports.py     # prints the arrows between rooms, then any problem
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agent", "app", "bench", "editing_core", "mtedit", "storage", "toyworld")
SCRIPTS = ("chat_app.py",)

# Floors inside agent/: a module may import modules of its own room and of lower floors.
FLOORS = {
    "agent": 5,  # the door: agent/__init__.py alone
    "agent.chat": 4,
    "agent.planning": 3,
    "agent.lineage": 3,
    "agent.jobs": 3,
    "agent.reading": 2,
    "agent.ops": 1,
    "agent.prompts": 1,
}
# Rooms that must not import the named ones (DESIGN.md's doors).
NEVER = {
    "editing_core": ("storage", "agent", "app", "toyworld"),
    "storage": ("editing_core", "agent", "app", "toyworld"),
    "agent": ("app", "chat_app", "bench"),
}
PAGE_MAY_IMPORT = ("agent", "mtedit.settings")  # exactly these, besides app/ itself


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    """{dotted module name: file} for every .py file of the project (tests excluded)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    for script in SCRIPTS:
        if (root / script).is_file():
            found[script.removesuffix(".py")] = root / script
    return found


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported_names(source: str, module: str, is_package: bool = False) -> list[tuple[str, int]]:
    """(dotted name, line) of every import in the source, those under `if TYPE_CHECKING:`
    left out. `from a import b` gives "a.b" (the caller keeps it if a.b is a module, else
    falls back to "a"); relative imports are resolved against `module`."""
    out: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join(parts[:keep] + ([base] if base else []))
            out.extend((f"{base}.{alias.name}" if base else alias.name, node.lineno)
                       for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return out


def import_graph(modules: dict[str, Path]) -> dict[str, dict[str, int]]:
    """{module: {project module it imports: first line}}."""
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        edges: dict[str, int] = {}
        for target, line in imported_names(path.read_text(encoding="utf-8"), name,
                                           path.name == "__init__.py"):
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                edges.setdefault(target, line)
        graph[name] = edges
    return graph


def circles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph) + 100))
    for v in sorted(graph):
        if v not in index:
            connect(v)
    return sorted(groups)


def room(module: str) -> str | None:
    """The agent room a module belongs to (the longest FLOORS prefix), else None."""
    if module == "agent":
        return "agent"
    best = None
    for name in FLOORS:
        if name != "agent" and (module == name or module.startswith(name + ".")):
            best = name if best is None or len(name) > len(best) else best
    return best


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def wrong_way(graph: dict[str, dict[str, int]], modules: dict[str, Path]) -> list[str]:
    """Every import that breaks a door rule, as 'file:line: a -> b (why)'."""
    problems = []
    for source, edges in sorted(graph.items()):
        where = modules[source].relative_to(ROOT) if source in modules else source
        for target, line in sorted(edges.items()):
            why = None
            a, b = room(source), room(target)
            if a and b and a != b and FLOORS[a] <= FLOORS[b]:
                why = f"{a} may not import {b} (floor {FLOORS[a]} -> {FLOORS[b]})"
            for package, banned in NEVER.items():
                if _under(source, package) and any(_under(target, x) for x in banned):
                    why = f"{package} never imports {target.split('.')[0]}"
            if (source == "chat_app" or _under(source, "app")) and not _under(target, "app") \
                    and target not in PAGE_MAY_IMPORT:
                why = f"the page talks only to {' and '.join(PAGE_MAY_IMPORT)}"
            if why:
                problems.append(f"{where}:{line}: {source} -> {target} ({why})")
    return problems


def room_arrows(graph: dict[str, dict[str, int]]) -> Counter:
    """How many module imports run from one agent room to another."""
    arrows: Counter = Counter()
    for source, edges in graph.items():
        for target in edges:
            a, b = room(source), room(target)
            if a and b and a != b:
                arrows[(a, b)] += 1
    return arrows


# -- the checks -------------------------------------------------------------------------


def test_the_checker_sees_a_circle_and_ignores_type_only_imports():
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}
    assert circles(graph) == [["a", "b", "c"]]
    src = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from agent.chat import x\n"
           "def f():\n    from agent.jobs import spec\n")
    assert [n for n, _ in imported_names(src, "agent.reading.m")] == [
        "typing.TYPE_CHECKING", "agent.jobs.spec"]
    assert [n for n, _ in imported_names("from . import walks", "agent.lineage", True)] == [
        "agent.lineage.walks"]


def test_the_checker_refuses_upward_and_sideways_imports():
    modules = {"agent.reading.intents": ROOT / "x", "agent.chat.session": ROOT / "y",
               "agent.jobs.spec": ROOT / "z", "agent.lineage.walks": ROOT / "w"}
    graph = {"agent.reading.intents": {"agent.chat.session": 3},
             "agent.jobs.spec": {"agent.lineage.walks": 4},
             "agent.chat.session": {"agent.jobs.spec": 5}}
    found = "\n".join(wrong_way(graph, modules))
    assert len(found.splitlines()) == 2
    assert "agent.reading may not import agent.chat" in found
    assert "agent.jobs may not import agent.lineage" in found


def test_no_import_circle_between_the_projects_modules():
    graph = import_graph(project_modules())
    assert circles(graph) == []


def test_imports_run_down_the_floors_and_through_the_doors():
    modules = project_modules()
    assert {"agent.chat.session", "agent.jobs.executor", "app.chat_panel"} <= set(modules)
    assert wrong_way(import_graph(modules), modules) == []


if __name__ == "__main__":
    mods = project_modules()
    g = import_graph(mods)
    print(f"{len(mods)} modules, {sum(len(e) for e in g.values())} imports between them")
    print("arrows between the agent's rooms (module imports):")
    for (a, b), n in sorted(room_arrows(g).items(), key=lambda kv: (-FLOORS[kv[0][0]], kv[0])):
        print(f"  {a:15} -> {b:15} {n:3}")
    found = circles(g)
    print(f"import circles: {len(found)}")
    for group in found:
        print("  " + " <-> ".join(group))
    bad = wrong_way(g, mods)
    print(f"imports against the doors: {len(bad)}")
    for line in bad:
        print("  " + line)
    sys.exit(1 if found or bad else 0)
