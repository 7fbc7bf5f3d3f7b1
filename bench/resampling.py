"""Resampling as lanes: ``jaxlr.bootstrap``, ``jaxlr.permutation_test`` and
``jaxlr.stability_selection`` against the loops a user writes today, in the same run.

Peers (run in their own process, ``python -m bench.resampling --peers``): ``scipy.stats.bootstrap``
over scikit-learn fits (percentile intervals of the coefficients, the statistic refits
``LogisticRegression`` on the resampled rows); scikit-learn's ``permutation_test_score`` (5-fold);
a loop of L1 ``LogisticRegression(solver="liblinear")`` fits on half-subsamples over the l1 grid.
Both sides fit the same models (``C = 1``, i.e. ``l2 = 1 / n_train``; the L1 grid as
``l1 = 1 / (C n_sub)``; liblinear penalizes its intercept, jaxlr does not) on breast cancer
(standardized) and a 20,000 x 50 ``make_classification`` set. jaxlr is timed warm (its first call,
compiling included, is reported apart), best of ``repeat``; reported: seconds, model fits per
second (lanes, i.e. resamples x folds x l1 values, over seconds) and the ratio.

    python -m bench.resampling --quick
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import numpy as np

from .common import best_of, run_fresh

DATASETS = ("breast_cancer", "binary_20000x50")
L1_C = (1.0, 0.3, 0.1, 0.03)  # scikit-learn's C of the L1 grid


def sizes(name: str, quick: bool, tiny: bool) -> dict:
    """Resamples, permutations and subsamples per data set (the peers' loops are the slow side)."""
    if tiny:
        return dict(bootstrap=8, permutations=3, subsamples=2)
    if name == "breast_cancer":
        return dict(bootstrap=100, permutations=10, subsamples=5) if quick else dict(
            bootstrap=1000, permutations=100, subsamples=50)
    return dict(bootstrap=10, permutations=2, subsamples=2) if quick else dict(
        bootstrap=200, permutations=100, subsamples=20)


def load(name: str):
    from .cv import load as cv_load

    return cv_load(name)


def peers_side(names, quick: bool, tiny: bool, repeat: int) -> dict:
    import scipy.stats
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import permutation_test_score

    warnings.simplefilter("ignore")
    out = {}
    for name in names:
        X, y = load(name)
        n = len(y)
        size = sizes(name, quick, tiny)

        def statistic(idx):
            return LogisticRegression(C=1.0).fit(X[idx], y[idx]).coef_[0]

        def boot():
            return scipy.stats.bootstrap((np.arange(n),), statistic, n_resamples=size["bootstrap"], vectorized=False,
                                         method="percentile", random_state=0)

        def perm():
            return permutation_test_score(LogisticRegression(C=1.0), X, y, cv=5, n_permutations=size["permutations"],
                                          random_state=0)

        def stab():
            rng = np.random.default_rng(0)
            chosen = np.zeros((len(L1_C), X.shape[1]))
            for _ in range(size["subsamples"]):
                idx = rng.choice(n, n // 2, replace=False)
                for i, C in enumerate(L1_C):
                    model = LogisticRegression(penalty="l1", solver="liblinear", C=C).fit(X[idx], y[idx])
                    chosen[i] += model.coef_[0] != 0
            return chosen

        out[name] = {k: best_of(f, repeat)[0] for k, f in (("bootstrap", boot), ("permutation", perm),
                                                         ("stability", stab))}
    return out


def jaxlr_side(names, quick: bool, tiny: bool, repeat: int) -> dict:
    import jaxlr

    warnings.simplefilter("ignore")
    out = {}
    for name in names:
        X, y = load(name)
        n = len(y)
        size = sizes(name, quick, tiny)
        l1 = [1.0 / (C * (n // 2)) for C in L1_C]
        calls = {
            "bootstrap": lambda: jaxlr.bootstrap(X, y, n_resamples=size["bootstrap"], l2=1.0 / n, seed=0),
            "permutation": lambda: jaxlr.permutation_test(X, y, n_permutations=size["permutations"], cv=5,
                                                          l2=1.0 / (0.8 * n), seed=0),
            "stability": lambda: jaxlr.stability_selection(X, y, l1=l1, n_subsamples=size["subsamples"], seed=0),
        }
        row = {}
        for kind, call in calls.items():
            start = time.perf_counter()
            call()
            first = time.perf_counter() - start
            seconds, _ = best_of(call, repeat)
            row[kind] = {"seconds": seconds, "first_call_s": first}
        out[name] = row
    return out


MEMORY_CODE = """
import json, resource, time, numpy as np, jaxlr
rng = np.random.default_rng(0)
X = rng.standard_normal(({m}, {n})).astype(np.float32)
y = (X[:, 0] - X[:, 1] + rng.logistic(size={m}) > 0).astype(int)
start = time.perf_counter()
r = jaxlr.bootstrap(X, y, n_resamples={B}, chunk_size={chunk}, solver="newton")
print(json.dumps({{"seconds": time.perf_counter() - start, "used": int(r.used.sum()),
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}}))
"""


def memory(m: int = 100_000, n: int = 20, resamples=(64, 256), chunk: int = 32) -> list[dict]:
    """Peak RSS of ``bootstrap`` in fresh processes at two resample counts, ``chunk`` lanes at a
    time: the weights are drawn in the program, so the peak follows the chunk, not
    ``n_resamples x n_samples`` (float32: an (n_resamples, m) matrix would be 4 m B bytes)."""
    rows = []
    for B in resamples:
        out = run_fresh(MEMORY_CODE.format(m=m, n=n, B=B, chunk=chunk), timeout=3600)
        rows.append({"m": m, "n": n, "n_resamples": B, "chunk_size": chunk, "seconds": out["seconds"],
                     "peak_rss_bytes": out["peak_rss_bytes"], "weight_matrix_bytes": 4 * m * B, "used": out["used"]})
    return rows


def fits(kind: str, size: dict) -> int:
    """Model fits per call (the lanes: the fit on all rows too)."""
    if kind == "bootstrap":
        return size["bootstrap"] + 1
    if kind == "permutation":
        return (size["permutations"] + 1) * 5
    return size["subsamples"] * len(L1_C)


def measure(quick: bool = False, tiny: bool = False) -> dict:
    names = DATASETS[:1] if tiny else DATASETS
    repeat = 1 if tiny else 2
    peers = run_fresh("import json; from bench.resampling import peers_side; "
                      f"print(json.dumps(peers_side({list(names)!r}, {quick}, {tiny}, {repeat})))", timeout=7200)
    mine = jaxlr_side(names, quick, tiny, repeat)
    rows = []
    for name in names:
        size = sizes(name, quick, tiny)
        for kind in ("bootstrap", "permutation", "stability"):
            k = fits(kind, size)
            rows.append({"data": name, "method": kind, "fits": k, "peer_s": peers[name][kind],
                         "jaxlr_s": mine[name][kind]["seconds"], "first_call_s": mine[name][kind]["first_call_s"],
                         "peer_fits_per_s": k / peers[name][kind], "jaxlr_fits_per_s": k / mine[name][kind]["seconds"],
                         "speedup": peers[name][kind] / mine[name][kind]["seconds"]})
    return {"rows": rows, "repeat": repeat, "quick": quick}


PEER = {"bootstrap": "scipy.stats.bootstrap over sklearn fits", "permutation": "sklearn permutation_test_score",
        "stability": "sklearn liblinear L1 loop"}


def markdown(res: dict) -> str:
    lines = ["| resampling, warm | fits | peer | peer | jaxlr | fits/s peer / jaxlr | speedup | jaxlr first call |",
             "|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        lines.append(f"| {r['method']} on {r['data']} | {r['fits']} | {PEER[r['method']]} | {r['peer_s']:.3f} s | "
                     f"{r['jaxlr_s']:.3f} s | {r['peer_fits_per_s']:.0f} / {r['jaxlr_fits_per_s']:.0f} | "
                     f"{r['speedup']:.1f}x | {r['first_call_s']:.2f} s |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.resampling", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--memory", action="store_true", help="only the peak-RSS check (bootstrap, 100,000 x 20)")
    args = parser.parse_args(argv)
    if args.memory:
        print(json.dumps(memory()))
        return 0
    res = measure(args.quick or args.tiny, args.tiny)
    print(markdown(res))
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
