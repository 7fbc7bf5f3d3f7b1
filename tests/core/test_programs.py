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


def test_a_fresh_process_traces_nothing_when_the_programs_are_kept(tmp_path):
    first = _run(tmp_path / "cache")
    second = _run(tmp_path / "cache")
    assert first["traces"] == 2 and second["traces"] == 0  # fit's and the sweep's program
    assert second["coef"] == first["coef"] and second["sweep"] == first["sweep"]
    assert not first["warnings"] and not second["warnings"]
    assert len(list((tmp_path / "cache" / "jaxlr-programs").glob("*.bin"))) == 2


def test_a_damaged_store_warns_once_and_traces(tmp_path):
    first = _run(tmp_path / "cache")
    for kept in (tmp_path / "cache" / "jaxlr-programs").glob("*.bin"):
        kept.write_bytes(b"not a program")
    again = _run(tmp_path / "cache")
    assert again["coef"] == first["coef"] and again["sweep"] == first["sweep"]
    assert again["traces"] >= 1
    assert sum("not kept across processes" in w for w in again["warnings"]) == 1
