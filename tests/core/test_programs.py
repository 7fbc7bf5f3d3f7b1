"""Programs compiled once: kept across processes next to the compilation cache, and a damaged or
unwritable store degrades to tracing, with one warning, never a crash."""

import json
import os
import subprocess
import sys
from pathlib import Path

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
    assert len(list((cache / "jaxlr-programs").glob("*.bin"))) == 2
    damaged = [*(cache / "jaxlr-programs").glob("*.bin"), *cache.glob("jit_*-cache")]
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
