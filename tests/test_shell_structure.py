"""The shell's modules import one another in one direction, and nothing registers itself.

Every import counts: at module level, inside functions and under TYPE_CHECKING
(``ast.walk`` sees them all). The local commands come from ``build_registry``,
which names each concern, so what a registry holds never depends on what
happened to be imported before.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from source_ast import parse_source

ROOT = Path(__file__).resolve().parent.parent
SHELL = ROOT / "smtpshell" / "shell"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _imported(node: ast.Import | ast.ImportFrom, importer: str, package: bool) -> list[str]:
    """Names a node imports; ``from X import Y`` may name the module X.Y."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        anchor = importer.split(".")
        anchor = anchor[: len(anchor) - node.level + (1 if package else 0)]
        base = ".".join([*anchor, base] if base else anchor)
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def shell_import_graph() -> dict[str, set[str]]:
    """For each module of smtpshell.shell, the modules of smtpshell.shell it imports."""
    paths = {_module_name(path): path for path in SHELL.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        targets: set[str] = set()
        for node in ast.walk(parse_source(path)):
            if isinstance(node, ast.Import | ast.ImportFrom):
                imported = _imported(node, name, _is_package(path))
                targets.update(target for target in imported if target in paths)
        targets.discard(name)
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path that ends where it starts, or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for target in sorted(graph.get(node, ())):
            cycle = visit(target, [*path, node])
            if cycle:
                return cycle
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start, [])
        if cycle:
            return cycle
    return None


def test_no_import_cycle_in_the_shell() -> None:
    cycle = find_cycle(shell_import_graph())
    assert cycle is None, " -> ".join(cycle or ())


def test_the_graph_sees_function_level_and_type_checking_imports() -> None:
    graph = shell_import_graph()
    # app imports the prompt inside a function, the context under TYPE_CHECKING.
    assert "smtpshell.shell.prompt" in graph["smtpshell.shell.app"]
    assert "smtpshell.shell.context" in graph["smtpshell.shell.registry"]
    assert "smtpshell.shell.commands.dns" in graph["smtpshell.shell.commands"]


def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_handlers_never_see_the_shell() -> None:
    graph = shell_import_graph()
    for name, targets in graph.items():
        if name.startswith("smtpshell.shell.commands"):
            assert "smtpshell.shell.app" not in targets, name


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=ROOT,
    )
    return done.stdout.strip()


def test_masking_imports_on_its_own_and_registers_nothing() -> None:
    out = _run(
        "import sys, smtpshell.shell.masking; "
        "print(sorted(m for m in sys.modules if m.startswith('smtpshell.shell.commands')))"
    )
    assert out == "[]"


def test_a_registry_built_first_thing_holds_every_command() -> None:
    out = _run(
        "from smtpshell.shell.commands import build_registry; "
        "r = build_registry(); print(r.secret_start('b64 x'), len(list(r)))"
    )
    assert out == "4 12"
