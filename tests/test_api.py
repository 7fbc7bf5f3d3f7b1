"""The public surface is small, explicit and pinned; importing jaxlr changes no global state."""

import os
import subprocess
import sys

import jaxlr

PUBLIC = {
    "BootstrapResult", "PermutationResult", "StabilityResult", "bootstrap", "permutation_test", "stability_selection",
    "ConvergenceWarning", "FitResult", "InferenceTable", "LogisticRegression", "LogisticRegressionCV",
    "Options", "Params", "PerfectSeparationWarning", "STATUS_NAMES", "Status", "SweepResult", "binary_cross_entropy",
    "choice", "enable_compilation_cache", "fit", "fit_many", "inference", "linear_probe", "loguniform", "losses",
    "metrics", "objective", "predict", "predict_proba", "set_program_cache", "solve", "sweep", "uniform",
}


def test_public_names_are_pinned():
    assert set(jaxlr.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(jaxlr, name) is not None
    modules = {"losses", "metrics", "sharding", "distributed", "sklearn", "cli"}
    assert {n for n in dir(jaxlr) if not n.startswith("_")} - modules == PUBLIC - modules


def test_status_codes_explain_themselves():
    assert jaxlr.STATUS_NAMES == ("running", "converged", "max_iter", "diverged", "done", "pruned")
    for status in jaxlr.Status:
        assert jaxlr.STATUS_NAMES[status] == status.label
        assert len(status.message) > 10


def test_no_function_shadows_a_module():
    import importlib
    import pkgutil

    modules = {m.name for m in pkgutil.iter_modules(jaxlr.__path__)}
    for name in PUBLIC - {"losses", "metrics"}:
        assert name not in modules, f"jaxlr.{name} is both a module and a public name"
    for name in modules:
        importlib.import_module(f"jaxlr.{name}") if name != "__main__" else None


def test_version_is_a_string():
    assert isinstance(jaxlr.__version__, str)


def test_import_changes_no_global_state():
    code = """
import os, json, jax
before = {k: getattr(jax.config, k) for k in ("jax_compilation_cache_dir",
          "jax_persistent_cache_min_compile_time_secs", "jax_enable_x64")}
umask = os.umask(0o022); os.umask(umask)
import jaxlr, jaxlr.cli, jaxlr.cli._outputs, jaxlr.cli._plots, jaxlr.cli._report, matplotlib
after = {k: getattr(jax.config, k) for k in before}
umask2 = os.umask(0o022); os.umask(umask2)
print(json.dumps([before == after, umask == umask2, matplotlib.rcParams["backend"]]))
"""
    import json

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PATH": "", "MPLBACKEND": "template"})
    same_config, same_umask, backend = json.loads(out.stdout.strip().splitlines()[-1])
    assert same_config and same_umask
    assert backend == "template"  # the user's choice survives


def test_compilation_cache_is_explicit(tmp_path):
    import jax

    from jaxlr._api.cache import disable_compilation_cache
    from jaxlr._core import programs as _programs

    path = jaxlr.enable_compilation_cache(tmp_path / "cache")
    try:
        assert path == str(tmp_path / "cache") and jax.config.jax_compilation_cache_dir == path
        assert _programs.KEPT.store.directory == os.path.join(path, "jaxlr-programs")
    finally:
        disable_compilation_cache()
    assert jax.config.jax_compilation_cache_dir is None and _programs.KEPT.store is None


def test_unwritable_cache_directory_degrades_to_no_cache(tmp_path):
    import pytest

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.warns(RuntimeWarning, match="compilation cache off"):
        assert jaxlr.enable_compilation_cache(blocker / "cache") is None


def test_lazy_public_names_load_on_first_use():
    """Names a fit does not use load at first use, from the module that defines them, and work
    with ``from jaxlr import ...`` as eager names do."""
    import subprocess
    import sys

    code = ("import sys, jaxlr\nassert 'jaxlr._api.stability' not in sys.modules\n"
            "from jaxlr import stability_selection, StabilityResult\n"
            "from jaxlr._api import stability\n"
            "assert stability_selection is stability.stability_selection and jaxlr.StabilityResult is StabilityResult\n"
            "assert 'stability_selection' in vars(jaxlr)\nprint('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr
