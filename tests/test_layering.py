"""Imports point one way: data -> model -> losses -> solvers -> train -> sweep -> shells.

Every import form is seen: ``from .x import y``, ``from . import x``, ``from .x.y import z``,
``import jaxlr.x``, ``from jaxlr import x`` and ``from jaxlr.x import y``, at any depth of the
module (imports inside functions count).
"""

import ast
import pathlib

import pytest

import jaxlr

ORDER = ["_data", "sharding", "_design", "_model", "losses", "_results", "_solvers", "_engine", "_lanes", "_train",
         "_sweep", "metrics", "_inference", "_solve", "_demo"]
SHELLS = {"estimator", "cli", "_io", "_outputs", "_plots", "_report", "distributed", "_cache", "__init__",
          "__main__"}
PACKAGE = pathlib.Path(jaxlr.__file__).parent


def local_imports(source: str) -> set[str]:
    """The jaxlr modules a source file imports, in every form."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 1 and module:  # from .x import y, from .x.y import z
                found.add(module.split(".")[0])
            elif node.level == 1:  # from . import x, y
                found |= {a.name.split(".")[0] for a in node.names}
            elif node.level == 0 and module == "jaxlr":  # from jaxlr import x
                found |= {a.name for a in node.names}
            elif node.level == 0 and module.startswith("jaxlr."):  # from jaxlr.x import y
                found.add(module.split(".")[1])
        elif isinstance(node, ast.Import):  # import jaxlr.x
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("jaxlr.")}
    return found


def all_imports(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("source, expected", [
    ("from .a import b", {"a"}),
    ("from . import a, b as c", {"a", "b"}),
    ("from .a.b import c", {"a"}),
    ("import jaxlr.a", {"a"}),
    ("import jaxlr.a.b as c", {"a"}),
    ("from jaxlr import a", {"a"}),
    ("from jaxlr.a import b", {"a"}),
    ("def f():\n    from . import a\n", {"a"}),
    ("import numpy\nfrom numpy import x", set()),
])
def test_every_import_form_is_seen(source, expected):
    assert local_imports(source) == expected


def test_core_modules_import_only_to_their_left():
    for path in PACKAGE.glob("*.py"):
        name = path.stem
        if name in SHELLS:
            continue
        assert name in ORDER, f"new module {name}: place it in the layering ORDER"
        for dep in local_imports(path.read_text()):
            assert dep in ORDER and ORDER.index(dep) < ORDER.index(name), f"{name} imports {dep}"


def test_core_never_imports_sklearn_or_prints():
    for path in PACKAGE.glob("*.py"):
        if path.stem in SHELLS:
            continue
        assert "sklearn" not in all_imports(path.read_text()), path.name
        tree = ast.parse(path.read_text())
        calls = [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
        assert "print" not in calls and "open" not in calls, path.name
