"""Imports point one way: data -> model -> losses -> solvers -> train -> sweep -> shells."""

import ast
import pathlib

import jaxlr

ORDER = ["data", "sharding", "model", "losses", "solvers", "train", "sweep", "metrics", "inference", "demo"]
SHELLS = {"estimator", "cli", "io", "outputs", "plots", "distributed", "__init__", "__main__"}
PACKAGE = pathlib.Path(jaxlr.__file__).parent


def local_imports(path):
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.add((node.module or "").split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jaxlr."):
            found.add(node.module.split(".")[1])
    return found


def all_imports(path):
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_modules_import_only_to_their_left():
    for path in PACKAGE.glob("*.py"):
        name = path.stem
        if name in SHELLS:
            continue
        assert name in ORDER, f"new module {name}: place it in the layering ORDER"
        for dep in local_imports(path) - {""}:
            assert dep in ORDER and ORDER.index(dep) < ORDER.index(name), f"{name} imports {dep}"


def test_core_never_imports_sklearn_or_prints():
    for path in PACKAGE.glob("*.py"):
        if path.stem in SHELLS:
            continue
        assert "sklearn" not in all_imports(path), path.name
        tree = ast.parse(path.read_text())
        calls = [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
        assert "print" not in calls and "open" not in calls, path.name
