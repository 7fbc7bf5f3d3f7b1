"""L-BFGS iterations to the optimum: jaxlr's batched L-BFGS against scipy's L-BFGS-B.

Same objective on both sides (mean log-loss + ``l2/2 ||w||^2``, intercept unpenalized, float64),
same memory (10 pairs), both from zero. The optimum ``f*`` is Newton's at ``tol=1e-12`` (for the
sparse section's 25,000-feature set, the lower of the two solvers' objectives at ``tol=1e-10``). Reported
per data set: the iterations each needs before its objective is within ``GAP`` of ``f*`` (jaxlr from
``loss_history``, scipy from its per-iteration callback), and their objective evaluations where
known (scipy's ``nfev``). Iterations are counted, not timed, so the figure holds on a loaded
machine.

    python -m bench.lbfgs
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

import numpy as np

GAP = 1e-6


def datasets(quick: bool = True, tiny: bool = False) -> dict:
    from sklearn.datasets import load_breast_cancer, make_classification
    from sklearn.preprocessing import StandardScaler

    from .common import make_data

    X, y = load_breast_cancer(return_X_y=True)
    out = {"breast_cancer (standardized)": (StandardScaler().fit_transform(X), y),
           "breast_cancer (raw)": (X, y)}
    if tiny:
        return out
    out["binary 20,000 x 50"] = make_classification(20000, 50, n_informative=20, random_state=0)
    m, n = (50_000, 100) if quick else (100_000, 100)
    Xb, yb = make_data(m, n, seed=1, dtype=np.float64)
    out[f"bench {m:,} x {n}"] = (Xb, yb)
    from .sparse import planted_labels, random_csr

    Xs = random_csr(50_000, 25_000, 50, np.float64, seed=7)
    out["sparse 50,000 x 25,000 (2.5M non-zeros, the sparse section's)"] = (Xs, planted_labels(Xs, seed=7))
    return out


def _scipy_fun(X, y, l2):
    m = X.shape[0]

    def fun(theta):
        w, b = theta[:-1], theta[-1]
        z = X @ w + b
        loss = np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * (w @ w)
        r = (1.0 / (1.0 + np.exp(-z)) - y) / m
        return loss, np.concatenate([X.T @ r + l2 * w, [r.sum()]])

    return fun


def _first_within(values, target: float) -> int | None:
    hit = np.flatnonzero(np.asarray(values) - target <= GAP)
    return int(hit[0]) if hit.size else None


def measure(quick: bool = True, tiny: bool = False) -> dict:
    import jax

    jax.config.update("jax_enable_x64", True)  # this process only (run_fresh from the bench)
    import scipy.sparse
    from scipy.optimize import minimize

    import jaxlr

    warnings.simplefilter("ignore")
    rows = []
    for name, (X, y) in datasets(quick, tiny).items():
        is_sparse = scipy.sparse.issparse(X)
        X = X.astype(np.float64) if is_sparse else np.asarray(X, np.float64)
        y = np.asarray(y, np.float64)
        l2 = 1.0 / X.shape[0]  # scikit-learn's C = 1
        ours = jaxlr.fit(X, y, l2=l2, solver="lbfgs", tol=1e-10, steps=500)
        history = np.asarray(ours.loss_history)[: int(ours.n_iter) + 1]
        values = []
        res = minimize(_scipy_fun(X, y, l2), np.zeros(X.shape[1] + 1), jac=True, method="L-BFGS-B",
                       callback=lambda intermediate_result: values.append(intermediate_result.fun),
                       options={"maxcor": 10, "maxiter": 500, "gtol": 1e-10, "ftol": 0.0})
        if is_sparse:  # 25,000 features: no Newton reference; both solvers run to tol 1e-10
            f_star = min(float(ours.objective), float(res.fun))
        else:
            f_star = float(jaxlr.fit(X, y, l2=l2, solver="newton", tol=1e-12, steps=200).objective)
        f0 = float(_scipy_fun(X, y, l2)(np.zeros(X.shape[1] + 1))[0])
        jx, sp = _first_within(history, f_star), _first_within([f0, *values], f_star)
        rows.append({"data": name, "m": int(X.shape[0]), "n": int(X.shape[1]), "f_star": f_star,
                     "jaxlr_final_gap": float(history[-1] - f_star), "scipy_final_gap": float(res.fun - f_star),
                     "jaxlr_iterations": jx, "scipy_iterations": sp, "scipy_nfev": int(res.nfev),
                     "scipy_nit": int(res.nit), "ratio": (jx / sp) if jx and sp else None})
    return {"gap": GAP, "rows": rows}


def markdown(res: dict) -> str:
    lines = [f"L-BFGS iterations to an objective gap <= {res['gap']:g} (float64, memory 10, from zero; "
             "ratio = jaxlr / scipy, target <= 1)", "",
             "| data | jaxlr iterations | scipy L-BFGS-B iterations (evaluations in its whole run) | ratio | "
             "gap after 500 iterations: jaxlr / scipy |", "|---|---|---|---|---|"]
    for r in res["rows"]:
        ratio = "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}"
        lines.append(f"| {r['data']} | {r['jaxlr_iterations'] or 'not within 500'} | "
                     f"{r['scipy_iterations'] or 'not within 500'} ({r['scipy_nfev']}) | {ratio} | "
                     f"{r['jaxlr_final_gap']:.1e} / {r['scipy_final_gap']:.1e} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lbfgs", description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args(argv)
    res = measure(quick=not args.full)
    print(markdown(res))
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
