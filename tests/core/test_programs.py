"""Programs compiled once: kept across processes next to the compilation cache, and a damaged or
unwritable store degrades to tracing, with one warning, never a crash."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys, warnings
import numpy as np
import jaxlr
traced = []
import jax
jax.monitoring.register_event_duration_secs_listener(
    lambda event, duration, fun_name=None, **_: traced.append(fun_name)
    if event == "/jax/core/compile/jaxpr_trace_duration" and fun_name in ("run", "flat_run") else None)
rng = np.random.default_rng(0)
X = rng.standard_normal((90, 5)); y = (X[:, 0] + rng.standard_normal(90) > 0).astype(int)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    jaxlr.enable_compilation_cache(sys.argv[1])
    r = jaxlr.fit(X, y, l2=0.01)
    s = jaxlr.sweep(X, y, l2=[0.01, 0.1, 1.0], solver="lbfgs")
print("JSON" + json.dumps({"traces": len(traced), "coef": np.asarray(r.coef).tolist(),
                           "sweep": np.asarray(s.coef).tolist(), "warnings": [str(w.message) for w in caught]}))
"""


def _run(cache):
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(cache)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("JSON")][-1][4:])


def test_kept_programs_trace_nothing_and_a_damaged_cache_warns_once_and_heals(tmp_path):
    """A fresh process traces nothing when the programs are kept. Damaged entries (the kept
    programs and JAX's own executables, truncated as by a killed run) cost one warning of one line,
    nothing else: the run gives the same models, the entries are removed (JAX never overwrites
    one), and the next run finds a whole cache again, without a warning."""
    cache = tmp_path / "cache"
    first = _run(cache)
    second = _run(cache)
    assert first["traces"] == 2 and second["traces"] == 0  # fit's and the sweep's program
    assert second["coef"] == first["coef"] and second["sweep"] == first["sweep"]
    assert not first["warnings"] and not second["warnings"]
    assert len(list((cache / "executables").glob("exe-*.bin"))) == 2  # the two programs, compiled
    assert len(list((cache / "executables").glob("shapes-*.bin"))) == 2  # and their loop states' shapes
    damaged = [*(cache / "executables").glob("*.bin"), *cache.glob("jit_*-cache")]
    assert len(damaged) >= 4
    for entry in damaged:
        entry.write_bytes(entry.read_bytes()[:100])
    again = _run(cache)
    assert again["coef"] == first["coef"] and again["sweep"] == first["sweep"]
    assert again["traces"] >= 1
    assert len(again["warnings"]) == 1 and "damaged entries of the compilation cache" in again["warnings"][0]
    assert "\n" not in again["warnings"][0]
    healed = _run(cache)
    assert healed["traces"] == 0 and not healed["warnings"] and healed["coef"] == first["coef"]


def test_a_file_where_the_program_store_belongs_runs_without_it(tmp_path):
    """A file named ``jaxlr-programs`` in the cache directory: one warning, the fit runs (JAX's
    cache still serves); a store whose directory turns into a file later warns once and traces."""
    import warnings

    import numpy as np

    import jaxlr
    from jaxlr._api.cache import ProgramStore, disable_compilation_cache
    from jaxlr._core import programs

    (tmp_path / "jaxlr-programs").write_text("not a directory")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert jaxlr.enable_compilation_cache(tmp_path) == str(tmp_path)
        assert [str(w.message) for w in caught] == [
            f"jaxlr: programs are not kept across processes: {tmp_path / 'jaxlr-programs'} is not a directory"]
        assert programs.KEPT.store is None
    finally:
        disable_compilation_cache()
    programs.set_store(ProgramStore(str(tmp_path / "jaxlr-programs")))
    try:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((30, 2))
        y = (X[:, 0] + rng.standard_normal(30) > 0).astype(int)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = jaxlr.fit(X, y, l2=0.1)
        assert result.status_name == "converged"
        assert [w.filename for w in caught] == [__file__]  # the user's line, one warning
        assert "not kept across processes" in str(caught[0].message)
    finally:
        programs.set_store(None)


PLAIN = """
import json, sys, warnings
import numpy as np
import jax
traced = []
jax.monitoring.register_event_duration_secs_listener(
    lambda event, duration, fun_name=None, **_: traced.append(fun_name)
    if event == "/jax/core/compile/jaxpr_trace_duration" else None)
import jaxlr
rng = np.random.default_rng(0)
X = rng.standard_normal((90, 5)); y = rng.integers(0, 3, 90)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    newton = jaxlr.fit(X, y, l2=0.01, solver="newton")  # LAPACK's Cholesky in a loaded executable
    lbfgs = jaxlr.fit(X, (y > 0).astype(int), l2=0.01, solver="lbfgs")
print("JSON" + json.dumps({"traces": len(traced), "newton": np.asarray(newton.coef).tolist(),
                           "lbfgs": np.asarray(lbfgs.coef).tolist(), "warnings": [str(w.message) for w in caught],
                           "jax_cache": jax.config.jax_compilation_cache_dir}))
"""


def _plain(env_extra, base=None):
    env = {**(os.environ if base is None else base), "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu", **env_extra}
    proc = subprocess.run([sys.executable, "-c", PLAIN], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("JSON")][-1][4:])


def test_the_python_api_keeps_its_compiled_programs_by_default(tmp_path):
    """Without ``enable_compilation_cache``: a second process loads the compiled programs (Newton's
    with its LAPACK calls included) and traces nothing, with the same models; JAX's configuration
    is left alone; ``JAXLR_CACHE_DIR=""`` keeps nothing anywhere."""
    home = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    env = {k: v for k, v in os.environ.items() if k != "JAXLR_CACHE_DIR"}
    first = _plain(home, env)
    second = _plain(home, env)
    assert first["traces"] > 0 and second["traces"] == 0
    assert second["newton"] == first["newton"] and second["lbfgs"] == first["lbfgs"]
    assert not first["warnings"] and not second["warnings"]
    assert first["jax_cache"] is None and second["jax_cache"] is None
    kept = tmp_path / "xdg" / "jaxlr" / "executables"
    assert len(list(kept.glob("exe-*.bin"))) == 2
    off = _plain({"JAXLR_CACHE_DIR": "", "XDG_CACHE_HOME": str(tmp_path / "off")})
    assert off["traces"] > 0 and off["newton"] == first["newton"]
    assert not (tmp_path / "off").exists()


HOST_SPARSE = """
import json, sys, warnings
import numpy as np, scipy.sparse as sp
import jax
if sys.argv[1] == "float64":
    jax.config.update("jax_enable_x64", True)
traced, loaded = [], []
jax.monitoring.register_event_duration_secs_listener(
    lambda event, duration, fun_name=None, **_: traced.append(fun_name)
    if event == "/jax/core/compile/jaxpr_trace_duration" else None)
jax.monitoring.register_event_listener(
    lambda event, **_: loaded.append(event) if event == "/jaxlr/programs/executable_loaded" else None)
import jaxlr
X = sp.random(300, 40, density=0.1, format="csr", random_state=0, dtype=np.dtype(sys.argv[1]))
y = (np.asarray(X.sum(axis=1)).ravel() + np.random.default_rng(0).standard_normal(300) * 0.1 > 0.2).astype(int)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    fit = jaxlr.fit(X, y, l2=0.01, solver="lbfgs")
    sweep = jaxlr.sweep(X, y, l2=[0.01, 0.1], solver="gd", learning_rate=0.5, steps=30, tol=None)
print("JSON" + json.dumps({"traces": len(traced), "loaded": len(loaded), "fit": np.asarray(fit.coef).tolist(),
                           "sweep": np.asarray(sweep.coef).tolist(), "dtype": str(np.asarray(fit.coef).dtype),
                           "warnings": [str(w.message) for w in caught]}))
"""


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_programs_that_call_scipy_on_the_host_are_kept_too(tmp_path, dtype):
    """A sparse X's products run by scipy on the host (``host_sparse``: callbacks inside the
    program). The executable is kept without its callbacks, which a fresh process attaches again:
    that process traces and compiles nothing of jaxlr's and gives the same models, in float32 and
    in float64 (whose values cross as bits)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu", "JAXLR_CACHE_DIR": str(tmp_path)}

    def run():
        proc = subprocess.run([sys.executable, "-c", HOST_SPARSE, dtype], capture_output=True, text=True, env=env,
                              cwd=ROOT, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("JSON")][-1][4:])

    first, second = run(), run()
    assert first["traces"] > 0 and first["loaded"] == 0
    assert second["traces"] == 0 and second["loaded"] == 2  # fit's program and the sweep's
    assert second["fit"] == first["fit"] and second["sweep"] == first["sweep"]
    assert first["dtype"] == second["dtype"] == dtype
    assert not first["warnings"] and not second["warnings"]


def test_an_executable_from_jaxs_cache_is_never_kept(tmp_path):
    """jaxlr's store emptied (a jaxlr upgrade changes its keys) while JAX's cache still holds the
    programs: the next process compiles them out of JAX's cache, and XLA:CPU serializes such
    executables without some of their kernels. The store must not keep them, or the process
    after crashes with ``NOT_FOUND: Function ... not found`` at the first run."""
    import shutil

    first = _run(tmp_path)
    shutil.rmtree(tmp_path / "executables")
    second = _run(tmp_path)
    third = _run(tmp_path)
    assert second["coef"] == first["coef"] and third["coef"] == first["coef"]
    assert third["sweep"] == first["sweep"]


def test_the_program_store_keeps_to_its_size_bound_least_recently_used_first(tmp_path):
    import time

    from jaxlr._api.cache import ProgramStore

    store = ProgramStore(str(tmp_path), max_bytes=2500)
    store.save("a", b"x" * 1000)
    time.sleep(0.02)
    store.save("b", b"x" * 1000)
    time.sleep(0.02)
    assert store.load("a") == b"x" * 1000  # a is now the most recently used
    time.sleep(0.02)
    store.save("c", b"x" * 1000)  # 3000 > 2500: b, the least recently used, goes
    assert store.load("b") is None
    assert store.load("a") is not None and store.load("c") is not None


def test_program_kinds_on_cpu_follow_the_work_and_the_size_of_x():
    import jax
    import jax.numpy as jnp

    from jaxlr._core.programs import OPTIONS, program_kind
    from jaxlr._core.solvers import SOLVERS

    if jax.default_backend() != "cpu":
        pytest.skip("the program kinds and their XLA options are XLA:CPU's")
    assert program_kind(100, 8, 1, 1, steps=100) == "cpu-small"  # compiling is most of its cost
    assert program_kind(1_437, 64, 6, 10) == "cpu"  # digits' CV: XLA's own dots, no YNNPACK fusions
    assert program_kind(12_000, 512, 1, 20) == "cpu-large"  # the probe: YNNPACK's fusions kept
    assert program_kind(100_000, 100, 1, 1, steps=0) == "cpu-large"  # large X: never -O0's products
    # many steps of a dense binary design: the fusion emitters (the loop emitters run an
    # elementwise fusion computed in place of its input as a scalar loop); few steps, several
    # outputs or sparse X: the loop emitters, which compile faster there
    assert program_kind(100_000, 100, 1, 1, SOLVERS["gd"], steps=1000) == "cpu-large-emitters"
    assert program_kind(20_000, 64, 8, 1, SOLVERS["gd"], steps=1000) == "cpu-emitters"
    assert program_kind(20_000, 64, 8, 1, SOLVERS["lbfgs"], steps=1000) == "cpu"
    assert program_kind(100, 8, 1, 1, SOLVERS["gd"], steps=1000) == "cpu-small"  # -O0 keeps its loops
    assert program_kind(100_000, 100, 64, 1, SOLVERS["adam"], steps=300) == "cpu-large-emitters"
    assert program_kind(100_000, 100, 1, 1, SOLVERS["lbfgs"], steps=1000) == "cpu-large"
    assert program_kind(100_000, 100, 1, 1, SOLVERS["newton"], steps=1000) == "cpu-large"
    assert program_kind(100_000, 100, 1, 3, SOLVERS["gd"], steps=1000) == "cpu-large"
    assert program_kind(10_000_000, 100_000, 1, 1, SOLVERS["gd"], steps=1000, dense=False) == "cpu-large"
    assert all(OPTIONS[kind]["xla_cpu_use_fusion_emitters"] is True for kind in ("cpu-emitters", "cpu-large-emitters"))
    assert all(OPTIONS[kind]["xla_cpu_use_fusion_emitters"] is False for kind in ("cpu", "cpu-small", "cpu-large"))
    if jax.__version_info__ < (0, 10):  # the option is given from jax 0.10 only
        return
    assert OPTIONS["cpu"]["xla_cpu_experimental_ynn_fusion_type"] == ""
    assert "xla_cpu_experimental_ynn_fusion_type" not in OPTIONS["cpu-large"]
    assert "xla_cpu_experimental_ynn_fusion_type" not in OPTIONS["cpu-small"]  # no oneDNN JIT at -O0
    for kind in OPTIONS:
        if kind == "default":
            continue
        text = jax.jit(lambda x, w: jnp.sum(jnp.exp(x @ w), axis=0), compiler_options=OPTIONS[kind]).lower(
            jnp.ones((300, 16)), jnp.ones((16, 6))).compile().as_text()
        assert ("__ynn_fusion" in text) == (kind not in ("cpu", "cpu-emitters")), kind
