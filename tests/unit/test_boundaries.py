"""Architecture rules that a reviewer would otherwise have to remember (ARCHITECTURE.md §6)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "planrunner"
ONLY_HERE = {
    "requests": {"exchanges/http.py"},
    "yaml": {"plan/load.py"},
    "click": {"cli.py"},
}
PURE_CORE = ["money.py", "actions.py", "plan/model.py", "plan/rules.py", "render.py", "compile.py",
             "exchanges/rules.py", "exchanges/paper/matching.py"]
IMPURE = ("planrunner.engine", "planrunner.state", "planrunner.exchanges.binance",
          "planrunner.exchanges.http", "planrunner.cli", "planrunner.sim")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("library, allowed", sorted(ONLY_HERE.items()))
def test_library_is_imported_only_by_its_one_module(library, allowed):
    offenders = [str(p.relative_to(PACKAGE)) for p in _modules()
                 if any(n == library or n.startswith(library + ".") for n in _imports(p))
                 and str(p.relative_to(PACKAGE)) not in allowed]
    assert offenders == []


@pytest.mark.parametrize("relative", PURE_CORE)
def test_pure_core_never_imports_the_imperative_shell(relative):
    path = PACKAGE / relative
    assert path.exists(), f"{relative} moved: update PURE_CORE"
    bad = [n for n in _imports(path) if n.startswith(IMPURE)]
    assert bad == []


def test_every_float_conversion_is_declared_not_money():
    """float() may convert durations (seconds to sleep), never prices or quantities: each use says so."""
    offenders = []
    for path in _modules():
        lines = path.read_text("utf-8").splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "float":
                if "# not money" not in lines[node.lineno - 1]:
                    offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []
