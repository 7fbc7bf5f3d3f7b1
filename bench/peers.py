"""jaxlr against scikit-learn and the seed's NumPy loop: time to the optimum, first call in a
fresh process, a grid of 32 C values, and GD on the same steps.

scikit-learn and NumPy run in their own process (``bench.competitors``) so their thread pools
and JAX's never compete; jaxlr runs here, warm (compiled once, then timed).
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np

import jaxlr

from .common import best_time, make_data, run_fresh
from .objective import GAP, objective64, rel_gap

JAXLR_TOLS = (1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6, 3e-7)
N_C = 32


def scaled_data(m, n, seed):
    """Features with column scales over 1.5 decades: ill-conditioned enough that iteration
    counts differ a lot across C (as on raw, unstandardized data)."""
    X, y = make_data(m, n, seed=seed)
    return (X * np.geomspace(1.0, 30.0, n).astype(X.dtype)).astype(X.dtype), y


def jaxlr_to_optimum(X, y, l2, solver, f_star, repeat):
    """Loosest ``tol`` at which ``jaxlr.fit`` reaches the gap, timed warm at that ``tol``."""
    row = None
    for tol in JAXLR_TOLS:
        def run():
            return jaxlr.fit(X, y, solver=solver, l2=l2, tol=tol, steps=2000)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = run()  # compiles once: tol is traced, so later tols reuse the program
            t = best_time(lambda: run().coef, repeat, warmup=0)
        gap = rel_gap(objective64(X, y, r.coef, r.intercept, l2), f_star)
        row = {"solver": f"jaxlr {solver}", "tol": tol, "seconds": t, "gap": gap,
               "n_iter": int(r.n_iter), "reached": gap <= GAP}
        if gap <= GAP:
            break
    return row


def lipschitz_lr(X, l2) -> float:
    """``1 / L`` with ``L = ||[1 X]||_2^2 / (4 m) + l2``: a safe, fast GD step."""
    Xb = np.hstack([np.ones((X.shape[0], 1)), X.astype(np.float64)])
    return float(1.0 / (np.linalg.norm(Xb, 2) ** 2 / (4 * X.shape[0]) + l2))


FIRST_CALL = """
import time, json
t0 = time.perf_counter()
import numpy as np
d = np.load({path!r})
X, y, l2 = np.array(d["X"]), np.array(d["y"]), float(d["l2"])
{body}
from bench.common import peak_rss_bytes
print(json.dumps({{"seconds": time.perf_counter() - t0,
                  "peak_rss_bytes": peak_rss_bytes()}}))
"""
JAXLR_BODY = "import jaxlr, jax\nr = jaxlr.fit(X, y, l2=l2)\njax.block_until_ready(r.coef)"
SKLEARN_BODY = ("from sklearn.linear_model import LogisticRegression\n"
                "LogisticRegression(C=1.0 / (l2 * len(y))).fit(X, y)")


def first_call(path) -> dict:
    """Import + compile + fit in fresh processes: jaxlr (cold, then warm persistent cache) vs
    scikit-learn, both with default solvers."""
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {"JAXLR_CACHE_DIR": cache}
        out["jaxlr_cold_cache"] = run_fresh(FIRST_CALL.format(path=str(path), body=JAXLR_BODY), env_extra=env)
        out["jaxlr_warm_cache"] = run_fresh(FIRST_CALL.format(path=str(path), body=JAXLR_BODY), env_extra=env)
    out["jaxlr_no_cache"] = run_fresh(FIRST_CALL.format(path=str(path), body=JAXLR_BODY),
                                      env_extra={"JAXLR_CACHE_DIR": ""})
    out["sklearn"] = run_fresh(FIRST_CALL.format(path=str(path), body=SKLEARN_BODY))
    return out


def c_grid_jaxlr(Xg, yg, Cs, tol, solver):
    """One jaxlr sweep over the C grid (to tolerance), warm; its lane efficiency."""
    l2s = list(1.0 / (Cs * Xg.shape[0]))

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return jaxlr.sweep(Xg, yg, l2=l2s, solver=solver, tol=tol, steps=1000)

    run()
    r = run()
    computed = r.config["lane_steps"]
    t = best_time(lambda: run().coef, 2, warmup=0)
    n_iter = np.asarray(r.n_iter)
    needed = int(np.sum(n_iter + (np.asarray(r.status) == 1)))  # + the step that certifies convergence
    plain = N_C * (int(n_iter.max()) + 1)  # a plain vmapped while_loop runs every lane to the slowest
    return {"solver": solver, "seconds": t, "n_iter": n_iter.tolist(), "needed": needed, "computed": computed,
            "lane_efficiency": needed / computed if computed else float("nan"),
            "plain_vmap_efficiency": needed / plain, "status": r.status_name,
            "coef": np.asarray(r.coef), "intercept": np.asarray(r.intercept), "l2": l2s}


def measure(quick: bool, workdir: Path, tiny: bool = False) -> dict:
    m, n = (2_000, 8) if tiny else (20_000, 64) if quick else (100_000, 100)
    X, y = make_data(m, n, seed=4)
    l2 = 1.0 / m  # C = 1
    mg, ng = (1_000, 8) if tiny else (5_000, 32) if quick else (20_000, 64)
    Xg, yg = scaled_data(mg, ng, seed=5)
    Cs = np.logspace(-6, 2, N_C)  # strong to weak penalty: very different iteration counts
    grid_tol = 1e-4  # the default; float32 cannot certify much less on badly scaled data
    lr = lipschitz_lr(X, l2)
    same_steps = 100 if quick else 300
    path = workdir / "bench_data.npz"
    np.savez(path, X=X, y=y, l2=l2, repeat=2 if quick else 3, gd_learning_rate=lr,
             seed_max_steps=3000 if quick else 20000, same_steps=same_steps, Xg=Xg, yg=yg, Cs=Cs,
             grid_tol=grid_tol)

    peers = run_fresh(f"import json; from bench.competitors import main; print(json.dumps(main({str(path)!r})))",
                      timeout=3600)
    f_star = peers["f_star"]
    rows = [jaxlr_to_optimum(X, y, l2, s, f_star, 2 if quick else 3) for s in ("lbfgs", "newton")]
    rows += peers["to_optimum"]

    def gd_same():
        return jaxlr.fit(X, y, solver="gd", learning_rate=lr, l2=l2, steps=same_steps, tol=None).coef

    t_gd = best_time(gd_same, 2)
    refs = peers["c_grid"]["refs"]
    grids = {}
    for solver in ("newton", "lbfgs"):
        g = c_grid_jaxlr(Xg, yg, Cs, grid_tol, solver)
        gaps = [rel_gap(objective64(Xg, yg, c, b, l2v), r)
                for c, b, l2v, r in zip(g.pop("coef"), g.pop("intercept"), g.pop("l2"), refs)]
        g["max_gap"] = float(max(gaps))
        grids[solver] = g
    grid = min(grids.values(), key=lambda g: g["seconds"])
    first = first_call(path)

    sk = [r for r in rows if r["solver"].startswith("sklearn") and r["reached"]]
    best_sk = min(sk, key=lambda r: r["seconds"]) if sk else None
    jx = [r for r in rows if r["solver"].startswith("jaxlr") and r["reached"]]
    best_jx = min(jx, key=lambda r: r["seconds"]) if jx else None
    sk_grid = min(peers["c_grid"][s]["seconds"] for s in ("lbfgs", "newton-cholesky"))
    return {
        "data": {"m": m, "n": n, "dtype": str(X.dtype), "C": 1.0, "grid_m": mg, "grid_n": ng,
                 "grid_C": [float(c) for c in Cs], "grid_tol": grid_tol},
        "f_star": f_star,
        "to_optimum": rows,
        "best_sklearn": best_sk, "best_jaxlr": best_jx,
        "speedup_vs_best_sklearn": (best_sk["seconds"] / best_jx["seconds"]) if best_sk and best_jx else None,
        "gd_same_steps": {"steps": same_steps, "jaxlr_s": t_gd, "seed_numpy_s": peers["seed_same_steps_s"],
                          "seed_threads": peers["seed_same_steps_threads"],
                          "speedup": peers["seed_same_steps_s"] / t_gd},
        "c_grid": {"jaxlr": grid, "jaxlr_all": grids, "sklearn": {k: v for k, v in peers["c_grid"].items() if k != "refs"},
                   "speedup_vs_sklearn_loop": sk_grid / grid["seconds"]},
        "first_call": first,
        "first_call_ratio": first["sklearn"]["seconds"] / first["jaxlr_warm_cache"]["seconds"],
        "first_call_ratio_cold": first["sklearn"]["seconds"] / first["jaxlr_cold_cache"]["seconds"],
        "competitor_peak_rss_bytes": peers["peak_rss_bytes"],
    }
