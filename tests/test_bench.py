"""Smoke test: the benchmark runs end to end on tiny shapes (no timing assertions)."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_bench_runs_on_tiny_shapes(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAXLR_CACHE_DIR=str(tmp_path / "cache"))
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "--tiny", "--out", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    table = out.with_suffix(".md").read_text()
    assert "| measurement | value | target |" in table and res["machine"]["cpu"] in table
    assert out.with_suffix(".png").stat().st_size > 0
    for key in ("matmul_f32_flops", "matmul_f64_flops", "read_bw_Bps"):
        assert res["limits_start"][key] > 0 and res["limits_end"][key] > 0
    assert [s["K"] for s in res["gd"]["sweeps"]] == [1, 4]
    peers = res["peers"]
    solvers = [r["solver"] for r in peers["to_optimum"]]
    assert solvers == ["jaxlr lbfgs", "jaxlr newton", "sklearn lbfgs", "sklearn newton-cholesky",
                       "sklearn saga", "seed NumPy GD"]
    # every competitor reaches the optimum on this easy problem, checked against float64
    assert all(r["reached"] and r["gap"] <= 1e-6 for r in peers["to_optimum"])
    grid = peers["c_grid"]["jaxlr"]
    assert len(grid["n_iter"]) == 32 and grid["max_gap"] <= 1e-6
    assert 0 < grid["lane_efficiency"] <= 1 and grid["computed"] >= grid["needed"]
    assert np.isfinite(peers["first_call_ratio"])


def test_compacted_sweep_matches_plain_vmap(monkeypatch):
    """Re-batching running lanes gives the models one program gives; it happens when the steps it
    saves outweigh compiling a narrower program, here forced by calling compilation free."""
    import jaxlr
    from jaxlr import _lanes

    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5))
    y = (X @ rng.standard_normal(5) + rng.standard_normal(200) > 0).astype(float)
    l2 = list(np.geomspace(1e-3, 1.0, 8))
    options = dict(solver="gd", learning_rate=1.0, tol=1e-7, steps=3000)
    plain = jaxlr.sweep(X, y, l2=l2, chunk_size=4, **options)  # < 8 lanes: never compacted
    monkeypatch.setattr(_lanes, "COMPILE_COST_S", 0.0)
    before = _lanes.lane_steps_computed()
    compact = jaxlr.sweep(X, y, l2=l2, **options)
    work = _lanes.lane_steps_computed() - before
    np.testing.assert_allclose(compact.coef, plain.coef, rtol=1e-9, atol=1e-10)
    np.testing.assert_array_equal(compact.n_iter, plain.n_iter)
    np.testing.assert_array_equal(compact.status, plain.status)
    np.testing.assert_allclose(compact.loss_history, plain.loss_history, rtol=1e-9)
    n_iter = np.asarray(compact.n_iter)
    assert n_iter.max() > 2 * n_iter.min()  # the lanes really need different counts
    assert work < len(l2) * (n_iter.max() + 1)  # stopped lanes stopped costing


def test_small_sweeps_compile_one_program():
    """At the real cost of compiling, a small sweep never compacts: one program, one call."""
    import jaxlr
    from jaxlr import _engine

    rng = np.random.default_rng(1)
    X = rng.standard_normal((150, 4))
    y = (X @ rng.standard_normal(4) + rng.standard_normal(150) > 0).astype(float)
    before = _engine.trace_count()
    jaxlr.sweep(X, y, l2=list(np.geomspace(1e-4, 10.0, 9)), solver="gd", learning_rate=1.0, tol=1e-7,
                steps=2000)
    assert _engine.trace_count() - before == 1
