"""Imports point one way: the compiled core, then the one entrance, then the public functions,
then the shells (the scikit-learn adapter, the command line).

Every import form is seen: ``from .x import y``, ``from . import x``, ``from ..x.y import z``,
``from .. import x``, ``import jaxlr.x``, ``from jaxlr import x`` and ``from jaxlr.x import y``,
at any depth of the module (imports inside functions count).
"""

import ast
import pathlib

import pytest

import jaxlr

PACKAGE = pathlib.Path(jaxlr.__file__).parent
# each package's modules in order: a module imports only modules before it, in its own package or
# in the packages before its own
LAYERS = {
    "_core": ["status", "model", "losses", "metrics", "design", "sparse", "host_sparse", "steps", "problem", "first_order", "lbfgs",
              "newton", "active_set", "fista", "solvers", "resample", "engine", "programs"],
    "_train": ["checks", "data", "grid", "results", "mesh", "layout", "scaling", "path", "options", "chunks",
               "scoring", "train"],
    "_api": ["diagnostics", "predict", "fit", "search", "halving", "sweep", "probe", "solve", "inference", "resampling",
             "bootstrap", "stability", "permutation", "cache", "demo"],
    "sklearn": ["_params", "_callbacks", "_logistic", "_cv"],
    "cli": ["_errors", "_args", "_io", "_outputs", "_plots", "_report", "_commands", "_main"],
}
PACKAGES = list(LAYERS)
SHELLS = ("sklearn", "cli")  # they sit side by side above the public functions
# top-level public modules: which package each one re-exports (or, for shells, may use)
PUBLIC_MODULES = {"losses": "_core", "metrics": "_core", "sharding": "_train", "distributed": "_train"}
PURE = ("_core", "_train")  # never print, open files or import scikit-learn


def module_of(path: pathlib.Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


def local_imports(source: str, module: str = "jaxlr.pkg.mod") -> set[str]:
    """The jaxlr modules a source file imports, in every form, as dotted names below ``jaxlr``
    (``module``: the importing module's dotted name, for relative imports)."""
    found = set()
    parts = module.split(".")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts[:len(parts) - node.level]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not (target == "jaxlr" or target.startswith("jaxlr.")):
                continue
            if node.module is None or target == "jaxlr":  # from . import a, from jaxlr import a
                found |= {f"{target}.{a.name}" for a in node.names}
            else:
                found.add(target)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("jaxlr.")}
    return {name.split(".", 1)[1] for name in found if "." in name}


def all_imports(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def rank(name: str):
    """(package index, module index) of a dotted name below jaxlr; None for the package root."""
    parts = name.split(".")
    if parts[0] in LAYERS:
        order = LAYERS[parts[0]]
        if len(parts) == 1:
            return PACKAGES.index(parts[0]), -1
        assert parts[1] in order, f"new module jaxlr.{name}: place it in LAYERS"
        return PACKAGES.index(parts[0]), order.index(parts[1])
    if parts[0] in PUBLIC_MODULES:
        return PACKAGES.index(PUBLIC_MODULES[parts[0]]), len(LAYERS[PUBLIC_MODULES[parts[0]]])
    return None


@pytest.mark.parametrize("source, module, expected", [
    ("from .a import b", "jaxlr._train.x", {"_train.a"}),
    ("from . import a, b as c", "jaxlr._train.x", {"_train.a", "_train.b"}),
    ("from .a.b import c", "jaxlr._train.x", {"_train.a.b"}),
    ("from .._core.a import b", "jaxlr._train.x", {"_core.a"}),
    ("from .. import __version__", "jaxlr.cli.x", {"__version__"}),
    ("import jaxlr.a", "jaxlr._train.x", {"a"}),
    ("import jaxlr.a.b as c", "jaxlr._train.x", {"a.b"}),
    ("from jaxlr import a", "jaxlr._train.x", {"a"}),
    ("from jaxlr.a import b", "jaxlr._train.x", {"a"}),
    ("def f():\n    from . import a\n", "jaxlr._train.x", {"_train.a"}),
    ("import numpy\nfrom numpy import x", "jaxlr._train.x", set()),
])
def test_every_import_form_is_seen(source, module, expected):
    assert local_imports(source, module) == expected


def test_modules_import_only_to_their_left():
    for package, order in LAYERS.items():
        assert sorted(p.stem for p in (PACKAGE / package).glob("*.py") if p.stem != "__init__") == sorted(order), \
            f"jaxlr/{package}: LAYERS lists {order}"
        for stem in order:
            path = PACKAGE / package / f"{stem}.py"
            here = rank(f"{package}.{stem}")
            for dep in local_imports(path.read_text(), module_of(path)):
                if dep == "__version__":
                    assert package in SHELLS, f"{package}.{stem} imports jaxlr's root"
                    continue
                there = rank(dep)
                assert there is not None, f"{package}.{stem} imports jaxlr.{dep}"
                same_shell = package in SHELLS and dep.split(".")[0] in SHELLS and dep.split(".")[0] != package
                assert not same_shell, f"the shells do not import each other: {package}.{stem} imports {dep}"
                assert there < here, f"{package}.{stem} imports {dep}"


def test_public_modules_re_export_from_below():
    for stem, package in PUBLIC_MODULES.items():
        path = PACKAGE / f"{stem}.py"
        for dep in local_imports(path.read_text(), module_of(path)):
            assert rank(dep) <= (PACKAGES.index(package), len(LAYERS[package])), f"jaxlr.{stem} imports {dep}"


def test_core_never_imports_sklearn_or_prints():
    for package in PURE:
        for path in (PACKAGE / package).glob("*.py"):
            source = path.read_text()
            assert "sklearn" not in all_imports(source), path.name
            calls = [n.func.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)
                     and isinstance(n.func, ast.Name)]
            assert "print" not in calls and "open" not in calls, path.name
    for package in ("_api", "cli"):  # only the adapter imports scikit-learn's estimators' machinery
        for path in (PACKAGE / package).glob("*.py"):
            assert "sklearn" not in all_imports(path.read_text()) or path.stem == "_io", path  # LIBSVM loader


def test_import_jaxlr_loads_only_what_a_fit_needs():
    """``import jaxlr`` is part of every first answer: optax (first-order solvers only), scipy,
    scikit-learn, the command line's libraries, and jaxlr's functions a fit does not use (with
    ``jax.scipy.stats``) load when used, not at import."""
    import subprocess
    import sys

    code = ("import sys, jaxlr; print(sorted(m for m in ('optax', 'scipy', 'sklearn', 'matplotlib', 'pandas', "
            "'pyarrow', 'tqdm', 'chex', 'jax.scipy.stats', 'jaxlr._api.bootstrap', 'jaxlr._api.inference', "
            "'jaxlr._api.permutation', 'jaxlr._api.stability', 'jaxlr._api.solve', 'jaxlr._api.sweep') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
                         cwd=pathlib.Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"
