"""Cross-validated C grids: ``LogisticRegressionCV(Cs=10, cv=5)``, jaxlr against scikit-learn.

Both sides get the same data and splitter (scikit-learn's default stratified 5-fold) and the
default ``tol``/``max_iter``, float64, each side in its own process (jaxlr warm: its programs
compiled by a first call, whose time is reported apart), both best of ``repeat``; scikit-learn
at the faster of one and the default number of BLAS threads (``best_over_blas_threads``). Reported: the
times, their ratio, and whether both chose the same ``C_``.

    python -m bench.cv                       # all five data sets
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import numpy as np

from .common import best_of, best_over_blas_threads, run_fresh

DATASETS = ("breast_cancer", "wine", "digits", "binary_20000x50", "classes5_20000x50")


def load(name: str):
    """The benchmark's data: breast cancer and wine standardized (raw, scikit-learn's lbfgs stops
    at max_iter and the choice of C depends on where it stopped), digits as shipped (features
    0-16), and two ``make_classification`` sets (20 informative features, random_state=0)."""
    from sklearn.datasets import load_breast_cancer, load_digits, load_wine, make_classification
    from sklearn.preprocessing import StandardScaler

    if name in ("breast_cancer", "wine"):
        X, y = (load_breast_cancer if name == "breast_cancer" else load_wine)(return_X_y=True)
        return StandardScaler().fit_transform(X), y
    if name == "digits":
        return load_digits(return_X_y=True)
    classes = 2 if name.startswith("binary") else 5
    return make_classification(20000, 50, n_informative=20, n_classes=classes, random_state=0)


def sklearn_side(names, repeat: int) -> dict:
    from sklearn.linear_model import LogisticRegressionCV

    warnings.simplefilter("ignore")
    out = {}
    for name in names:
        X, y = load(name)
        seconds, model, threads = best_over_blas_threads(lambda: LogisticRegressionCV(Cs=10, cv=5).fit(X, y),
                                                         repeat)
        out[name] = {"seconds": seconds, "C_": float(np.ravel(model.C_)[0]),
                     "max_n_iter": int(np.max(model.n_iter_)), **threads}
    return out


def jaxlr_side(names, repeat: int) -> dict:
    import jaxlr

    warnings.simplefilter("ignore")
    out = {}
    for name in names:
        X, y = load(name)
        start = time.perf_counter()
        jaxlr.LogisticRegressionCV(Cs=10, cv=5).fit(X, y)
        first = time.perf_counter() - start
        seconds, model = best_of(lambda: jaxlr.LogisticRegressionCV(Cs=10, cv=5).fit(X, y), repeat)
        out[name] = {"seconds": seconds, "first_call_s": first, "C_": float(np.ravel(model.C_)[0]),
                     "solver": model.solver_, "max_n_iter": int(np.max(model.n_iter_))}
    return out


def measure(quick: bool = False, tiny: bool = False) -> dict:
    names = ("breast_cancer",) if tiny else DATASETS
    repeat = 2 if quick or tiny else 3
    sk = run_fresh("import json; from bench.cv import sklearn_side; "
                   f"print(json.dumps(sklearn_side({list(names)!r}, {repeat})))", timeout=3600)
    # float64 on both sides (the figures), jaxlr in its own process with x64 on
    jx = run_fresh("import jax; jax.config.update('jax_enable_x64', True); import json; "
                   f"from bench.cv import jaxlr_side; print(json.dumps(jaxlr_side({list(names)!r}, {repeat})))",
                   timeout=3600, env_extra={"JAXLR_CACHE_DIR": ""})  # its first call compiles
    rows = []
    for name in names:
        rows.append({"data": name, "sklearn_s": sk[name]["seconds"], "jaxlr_s": jx[name]["seconds"],
                     "speedup": sk[name]["seconds"] / jx[name]["seconds"], "first_call_s": jx[name]["first_call_s"],
                     "same_C": bool(np.isclose(sk[name]["C_"], jx[name]["C_"])), "C_sklearn": sk[name]["C_"],
                     "C_jaxlr": jx[name]["C_"], "solver": jx[name]["solver"],
                     "sklearn_threads": {k: sk[name][k] for k in ("one_thread_s", "default_threads_s", "threads")}})
    return {"rows": rows, "repeat": repeat}


def markdown(res: dict) -> str:
    lines = ["| LogisticRegressionCV(Cs=10, cv=5), warm | scikit-learn (best of 1 / default BLAS threads) | jaxlr | "
             "speedup (target >= 3x) | same C_ | jaxlr first call |", "|---|---|---|---|---|---|"]
    for r in res["rows"]:
        same = "yes" if r["same_C"] else f"no ({r['C_jaxlr']:.3g} vs {r['C_sklearn']:.3g})"
        met = "met" if r["speedup"] >= 3 else "not met"
        th = r["sklearn_threads"]
        lines.append(f"| {r['data']} ({r['solver']}) | {r['sklearn_s']:.3f} s ({th['one_thread_s']:.3f} / "
                     f"{th['default_threads_s']:.3f}) | {r['jaxlr_s']:.3f} s | "
                     f"{r['speedup']:.2f}x {met} | {same} | {r['first_call_s']:.2f} s |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cv", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    res = measure(args.quick)
    print(markdown(res))
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
