"""The shape the code keeps so the next engineer can take it over at a glance (issue #16): no Python
function over 60 lines outside data literals, no import cycle among the project's modules (an import
inside a function counts too), and a README a newcomer reads in five minutes."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("facecheck", "training", "export", "server", "benchmarks", "package_scripts", "tests")
MAX_FUNCTION_LINES = 60
# Data literals, exempt from the length rule: the OpenAPI document is one dict.
DATA_LITERALS = {("server/openapi.py", "build_spec")}
README_MAX_BYTES = 12_000


def python_files(packages=PACKAGES) -> list[Path]:
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py")
                  if "node_modules" not in p.parts)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def long_functions(source: str, rel: str, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """`file:line name (N lines)` for each function in `source` longer than `limit` lines."""
    found = []
    for node in ast.walk(ast.parse(source, filename=rel)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (rel, node.name) not in DATA_LITERALS:
            lines = node.end_lineno - node.lineno + 1
            if lines > limit:
                found.append(f"{rel}:{node.lineno} {node.name} ({lines} lines)")
    return found


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """Project modules `path` imports anywhere in its body, function-local imports included."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            candidates = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(c for c in candidates if c in known and c != name)
    return found


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_no_function_is_longer_than_sixty_lines():
    offenders = [f for path in python_files()
                 for f in long_functions(path.read_text(), path.relative_to(ROOT).as_posix())]
    assert not offenders, "split these into named steps:\n" + "\n".join(offenders)


def test_the_checks_catch_what_they_look_for():
    """The checks can fail: a 61-line function, a nested one and a two-module cycle are found."""
    def function(name, lines, indent=""):
        body = "\n".join(f"{indent}    x{i} = {i}" for i in range(lines - 1))
        return f"{indent}def {name}():\n{body}\n"

    assert long_functions(function("short", 60), "m.py") == []
    assert long_functions(function("long", 61), "m.py") == ["m.py:1 long (61 lines)"]
    nested = "class C:\n" + function("method", 61, indent="    ")
    assert long_functions(nested, "m.py") == ["m.py:2 method (61 lines)"]
    assert long_functions(function("build_spec", 61), "server/openapi.py") == []
    assert import_cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_project_modules():
    files = python_files(PACKAGES[:-1])
    known = {module_name(p) for p in files}
    graph = {module_name(p): imported_modules(p, known) for p in files}
    assert import_cycles(graph) == []


def test_readme_is_a_front_door():
    size = len((ROOT / "README.md").read_bytes())
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes; move detail to docs/"
