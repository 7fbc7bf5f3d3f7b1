"""Smoke test: the benchmark runs end to end on tiny shapes (no timing assertions)."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.mark.slow
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
    # references are timed at one and at the default number of BLAS threads, the faster reported
    for r in peers["to_optimum"][2:]:
        assert r["threads"] in ("1", "default") and r["seconds"] == min(r["one_thread_s"], r["default_threads_s"])
    assert all(r["sklearn_threads"]["threads"] in ("1", "default") for r in res["cv"]["rows"])
    grid = peers["c_grid"]["jaxlr"]
    assert len(grid["n_iter"]) == 32 and grid["max_gap"] <= 1e-6
    assert 0 < grid["lane_efficiency"] <= 1 and grid["computed"] >= grid["needed"]
    assert np.isfinite(peers["first_call_ratio"])
    sparse = res["sparse"]  # kernels against scipy, sparse == dense, the two large-problem targets
    assert "### Sparse X" in table and "sparse == dense (float64)" in table
    assert all(r["fwd_rel_err"] < 1e-5 for r in sparse["kernels"]["rows"] if "fwd_rel_err" in r)
    assert all(r["met"] for r in sparse["equality"])
    fit = sparse["large_fit"]
    assert fit["jaxlr_cold"]["status"] == fit["jaxlr_warm_cache"]["status"] == "converged"
    assert abs(fit["jaxlr_cold"]["objective"] - fit["sklearn"]["objective"]) < 1e-3
    assert sparse["libsvm"]["exit"] == 0 and sparse["libsvm"]["status"] == "converged"
    probe = res["probe"]  # the linear probe: both sides pick a C and score it on the validation split
    assert probe["size"] == "tiny" and "Linear probe (tiny)" in table
    assert len(probe["jaxlr"]["accuracy"]) == len(probe["sklearn"]["accuracy"]) == probe["spec"]["n_C"]
    assert probe["agree"] and probe["jaxlr"]["first_call_s"] >= probe["jaxlr"]["compile_s"] >= 0
    # the run keeps its programs in a store of its own: a first call compiles whatever earlier
    # runs kept, and the user's store (here $JAXLR_CACHE_DIR) is left alone
    assert probe["jaxlr"]["compile_s"] > 0 and not (tmp_path / "cache").exists()
    resampling = res["resampling"]  # each method against its peer loop, time and fits/s
    assert [r["method"] for r in resampling["rows"]] == ["bootstrap", "permutation", "stability"]
    assert all(r["jaxlr_s"] > 0 and r["peer_s"] > 0 for r in resampling["rows"]) and "| resampling, warm |" in table
    lbfgs = res["lbfgs"]  # iterations to the optimum, both sides counted on the same objective
    assert len(lbfgs["rows"]) == 2 and "L-BFGS iterations to an objective gap" in table
    assert lbfgs["rows"][0]["jaxlr_iterations"] and lbfgs["rows"][0]["scipy_iterations"]
    beyond = res["beyond"]
    assert beyond["hypergradient"]["max_relative_error"] <= 1e-4 and "successive halving" in table
    assert beyond["halving"][0]["steps_from_best"] <= 1


def test_accelerator_script_runs_on_cpu_tiny(tmp_path):
    """``bench/accelerator.py --tiny``: every section of the GPU run on tiny CPU shapes, the JSON and
    the table written (the GPU figures themselves come from a GPU machine, never from CI)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAXLR_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-m", "bench.accelerator", "--tiny", "--out", str(tmp_path)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads((tmp_path / "accelerator.json").read_text())
    table = (tmp_path / "accelerator.md").read_text()
    assert not res["errors"] and not res["skipped"]
    for section in ("limits", "first_answer", "k_sweep", "probe", "sparse"):
        assert section in res and res["seconds"][section] >= 0
    assert res["limits"]["matmul_f32_flops"] > 0 and res["limits"]["read_bw_Bps"] > 0
    assert [s["K"] for s in res["k_sweep"]["sweeps"]] == [4] and res["k_sweep"]["sweeps"][0]["vs_matmul"] > 0
    probe = res["probe"]
    assert len(probe["status"]) == probe["spec"]["n_C"] == 4 and 0 < probe["best_accuracy"] <= 1
    assert res["sparse"]["status"] == "converged"
    assert "| linear probe" in table and "| sparse lbfgs fit" in table and "| K=4 GD sweep" in table
