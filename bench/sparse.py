"""Sparse X (issue 14): the kernels for ``X @ W`` and ``X^T @ R`` against scipy, sparse == dense
per solver, and the memory and speed targets on large sparse problems.

    python -m bench.sparse [--quick | --tiny] [--out FILE.json]    # this part alone
    python -m bench ...                                             # everything, this included

Every kernel timing is paired with scipy's CSR product on the same matrix, measured in
alternation with it (best of ``repeat`` each), so each ratio comes from the same moments of a
shared machine. Compiled kernels are warmed up first and timed with ``block_until_ready``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from .common import block, run_fresh

# ----------------------------------------------------------------------------- data


def random_csr(m: int, n: int, per_row: int, dtype=np.float32, seed: int = 0, skew: bool = False):
    """A canonical CSR with ``per_row`` non-zeros per row on average; ``skew``: row lengths
    and column frequencies drawn from heavy-tailed laws, as in text (TF-IDF) data."""
    rng = np.random.default_rng(seed)
    if skew:
        lengths = np.minimum(rng.zipf(1.7, m) * max(1, per_row // 4), n // 2).astype(np.int64)
        lengths = np.maximum(1, (lengths * per_row / lengths.mean()).astype(np.int64))
        weights = 1.0 / np.arange(1, n + 1) ** 0.9  # Zipf-like column popularity
        cols = rng.choice(n, size=int(lengths.sum()), p=weights / weights.sum()).astype(np.int32)
    else:
        lengths = np.full(m, per_row, np.int64)
        cols = rng.integers(0, n, size=m * per_row, dtype=np.int32)
    indptr = np.zeros(m + 1, np.int64)
    np.cumsum(lengths, out=indptr[1:])
    data = (rng.random(len(cols), dtype=np.float64) + 0.1).astype(dtype)
    X = sp.csr_matrix((data, cols, indptr), shape=(m, n))
    X.sum_duplicates()  # also sorts the indices
    return X


def planted_labels(X, seed: int = 0, noise: float = 1.0):
    """Labels from a random hyperplane on standardized logits, not separable."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(X.shape[1])
    z = np.asarray(X @ w, np.float64)
    z = (z - z.mean()) / (z.std() + 1e-12) * 2.0
    return (z + noise * rng.standard_normal(X.shape[0]) > 0).astype(np.float64)


# ----------------------------------------------------------------------------- kernels


def paired_time(fn, ref, repeat: int = 5) -> tuple[float, float, float, float]:
    """Best wall and CPU times (``time.process_time``: all threads of this process) of ``fn``
    and of ``ref``, called in alternation after one warm-up each: (wall, cpu, ref wall, ref cpu).
    On a shared machine a kernel whose threads wait for a busy core loses wall time but not
    CPU time, so both are kept."""
    block(fn())
    block(ref())
    best = [float("inf")] * 4
    for _ in range(repeat):
        for k, f in ((0, fn), (2, ref)):
            w, c = time.perf_counter(), time.process_time()
            block(f())
            best[k] = min(best[k], time.perf_counter() - w)
            best[k + 1] = min(best[k + 1], time.process_time() - c)
    return tuple(best)


def _coo_segment(X):
    from jax.ops import segment_sum

    m, n = X.shape
    row = jnp.asarray(np.repeat(np.arange(m, dtype=np.int32), np.diff(X.indptr)))
    col = jnp.asarray(X.indices.astype(np.int32))
    data = jnp.asarray(X.data)
    csc = X.tocsc()
    colT = jnp.asarray(np.repeat(np.arange(n, dtype=np.int32), np.diff(csc.indptr)))
    rowT = jnp.asarray(csc.indices.astype(np.int32))
    dataT = jnp.asarray(csc.data)

    def scale(d, v):
        return d * v if v.ndim == 1 else d[:, None] * v

    fwd = jax.jit(lambda d, r, c, W: segment_sum(scale(d, W[c]), r, m, indices_are_sorted=True))
    # what jax.grad of the forward product runs: a scatter-add into the columns
    bwd_scatter = jax.jit(lambda d, r, c, R: jnp.zeros((n, *R.shape[1:]), R.dtype).at[c].add(scale(d, R[r])))
    bwd_csc = jax.jit(lambda d, c, r, R: segment_sum(scale(d, R[r]), c, n, indices_are_sorted=True))
    return ((lambda W: fwd(data, row, col, W)), (lambda R: bwd_scatter(data, row, col, R)),
            (lambda R: bwd_csc(dataT, colT, rowT, R)))


def kernel_table(X, lanes=(1,), repeat: int = 5, variants=None) -> list[dict]:
    """Forward and backward product times of each kernel on ``X`` (scipy CSR alongside)."""
    from jax.experimental import sparse as jsparse

    from jaxlr._core import sparse as _design

    m, n = X.shape
    rng = np.random.default_rng(1)
    rows = []
    XTcsc = X.T  # what scikit-learn computes X^T r with: the CSC view of X's transpose

    def add(name, K, fwd=None, bwd=None, check=None):
        W = rng.standard_normal((n, K) if K > 1 else n).astype(X.dtype)
        R = rng.standard_normal((m, K) if K > 1 else m).astype(X.dtype)
        Wj, Rj = jnp.asarray(W), jnp.asarray(R)
        row = {"kernel": name, "K": K, "dtype": str(X.dtype), "m": m, "n": n, "nnz": int(X.nnz)}
        for what, f, ref, arg, host in (("fwd", fwd, lambda: X @ W, Wj, W), ("bwd", bwd, lambda: XTcsc @ R, Rj, R)):
            if f is None:
                continue
            out = np.asarray(f(arg))
            want = np.asarray(ref())
            err = float(np.max(np.abs(out - want)) / (np.max(np.abs(want)) + 1e-30))
            t, c, t_ref, c_ref = paired_time(lambda: f(arg), ref, repeat)
            row.update({f"{what}_ms": t * 1e3, f"scipy_{what}_ms": t_ref * 1e3, f"{what}_vs_scipy": t / t_ref,
                        f"{what}_cpu_ms": c * 1e3, f"scipy_{what}_cpu_ms": c_ref * 1e3,
                        f"{what}_cpu_vs_scipy": c / max(c_ref, 1e-9), f"{what}_rel_err": err})
        rows.append(row)

    variants = variants or ("bcoo", "bcsr", "segment", "chunks", "callback", "vmap")
    for K in lanes:
        if "bcoo" in variants:
            A = jsparse.BCOO.from_scipy_sparse(X)
            AT = A.T
            mv = jax.jit(lambda A, W: A @ W)
            add("BCOO (jit)", K, lambda W: mv(A, W), lambda R: mv(AT, R))
            del A, AT
        if "bcsr" in variants and K == 1:
            B = jsparse.BCSR.from_scipy_sparse(X)
            mv = jax.jit(lambda B, W: B @ W)
            add("BCSR (jit)", K, lambda W: mv(B, W))
            del B
        if "segment" in variants:
            f, b_scatter, b_csc = _coo_segment(X)
            add("COO segment_sum / scatter-add (autodiff's transpose)", K, f, b_scatter)
            add("CSC segment_sum (sorted)", K, None, b_csc)
        if "chunks" in variants:
            for label, kw in (("chunks, ELL (one per row)", dict(width="ell")),
                              ("chunks, width 8", dict(width=8)), ("chunks, width 16", dict(width=16)),
                              ("chunks, width 32", dict(width=32)), ("chunks, unblocked", dict(block=0)),
                              ("chunks, blocks of 2^16", dict(block=1 << 16)),
                              (f"chunks (jaxlr default: blocks of 2^{_design.BLOCK_ELEMENTS.get('cpu', 0).bit_length() - 1})",
                               {})):
                if "ELL" in label and max(np.diff(X.indptr).max(), np.bincount(X.indices).max()) > _design.MAX_ELL:
                    continue  # a row or column too long to pad every row or column to
                D = _design.sparse(X, transpose=True, **kw)
                mv = jax.jit(lambda D, W: D.matmul(W))
                rmv = jax.jit(lambda D, R: D.rmatmul(R))
                add(label + f" [c={D.fwd.data.shape[1]}/{D.bwd.data.shape[1]}]", K,
                    lambda W, D=D: mv(D, W), lambda R, D=D: rmv(D, R))
                del D
        if "vmap" in variants and K > 1:
            D = _design.sparse(X, transpose=True)
            plain = jax.jit(jax.vmap(lambda w: _design._apply(D.fwd, w), in_axes=1, out_axes=1))
            plain_t = jax.jit(jax.vmap(lambda r: _design._apply(D.bwd, r), in_axes=1, out_axes=1))
            add("chunks, vmap of the one-lane kernel", K, plain, plain_t)
            lanes_ = jax.jit(jax.vmap(lambda w: D.matmul(w), in_axes=1, out_axes=1))
            lanes_t = jax.jit(jax.vmap(lambda r: D.rmatmul(r), in_axes=1, out_axes=1))
            add("chunks, vmap with the lanes-last rule", K, lanes_, lanes_t)
            U = _design.sparse(X, transpose=True, block=0)
            add("chunks, lanes-last rule, unblocked", K, jax.jit(jax.vmap(lambda w: U.matmul(w), in_axes=1, out_axes=1)),
                jax.jit(jax.vmap(lambda r: U.rmatmul(r), in_axes=1, out_axes=1)))
            del D, U
        if "callback" in variants and K == 1:
            dtype = X.dtype
            host = jax.jit(lambda W: jax.pure_callback(lambda v: (X @ v).astype(dtype), jax.ShapeDtypeStruct((m,), dtype), W))
            host_t = jax.jit(lambda R: jax.pure_callback(lambda r: (XTcsc @ r).astype(dtype), jax.ShapeDtypeStruct((n,), dtype), R))
            add("scipy through jax.pure_callback", K, host, host_t)
    return rows


def kernels(quick: bool, tiny: bool = False) -> dict:
    """The kernel table: the issue's shape (100,000 x 20,000, 0.1%) in float32 and float64 with
    K = 1, float32 with K = 16 and 64, the same size with text-like (heavy-tailed) rows, and the
    fit target's shape (200,000 x 100,000, 50 per row) for the chosen kernel."""
    m, n, per_row = (2_000, 1_000, 10) if tiny else (100_000, 20_000, 20)
    out = {"shape": [m, n, per_row], "rows": []}
    if tiny:  # the smoke test: one of each kind
        X = random_csr(m, n, per_row, np.float32)
        out["rows"] = kernel_table(X, (1,), repeat=2, variants=("bcoo", "segment", "chunks"))
        out["rows"] += kernel_table(X, (4,), repeat=2, variants=("vmap",))
        return out
    all_variants = ("bcoo", "bcsr", "segment", "chunks", "callback")
    for dtype in (np.float32, np.float64):
        X = random_csr(m, n, per_row, dtype)
        out["rows"] += kernel_table(X, (1,), variants=all_variants if dtype == np.float32 else ("segment", "chunks"))
    X = random_csr(m, n, per_row, np.float32)
    for K in ((16, 64) if not quick else (16,)):
        out["rows"] += kernel_table(X, (K,), repeat=3, variants=("bcoo", "segment", "vmap"))
    Xs = random_csr(m, n, per_row, np.float32, skew=True)
    out["skewed"] = {"max_row": int(np.diff(Xs.indptr).max()), "max_col": int(np.diff(Xs.tocsc().indptr).max())}
    out["rows"] += [dict(r, data="skewed") for r in kernel_table(Xs, (1,), variants=("segment", "chunks"))]
    if not (quick or tiny):
        Xb = random_csr(200_000, 100_000, 50, np.float32)
        out["rows"] += [dict(r, data="target") for r in kernel_table(Xb, (1,), repeat=3, variants=("chunks", "callback"))]
    return out


# ----------------------------------------------------------------------------- sparse == dense

EQUALITY_SOLVERS = [
    ("gd", dict(learning_rate=0.5, steps=300, tol=None, l2=1e-2)),
    ("adam", dict(learning_rate=0.05, steps=300, tol=None, l2=1e-2)),
    ("lbfgs", dict(l2=1e-2, tol=1e-9)),
    ("newton", dict(l2=1e-2, tol=1e-9)),
    ("fista", dict(l1=1e-2, tol=1e-9, steps=3000)),
    ("fista", dict(l1=5e-3, l2=1e-2, tol=1e-9, steps=3000)),
    ("gd", dict(learning_rate=0.5, steps=100, batch_size=64, l2=1e-2)),
]


def equality(tiny: bool = False) -> list[dict]:
    """Max |sparse - dense| over coef and intercept (float64) per solver, fit and 3-model sweep."""
    import warnings

    import jaxlr

    X = random_csr(400 if tiny else 2_000, 60, 6, np.float64, seed=3)
    y = planted_labels(X, seed=3)
    Xd = X.toarray()
    rows = []
    with jax.enable_x64(True), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for solver, options in EQUALITY_SOLVERS[2:4] if tiny else EQUALITY_SOLVERS:
            name = solver + (" (elastic net)" if options.get("l1") and options.get("l2") else
                             " (L1)" if options.get("l1") else " (minibatch)" if options.get("batch_size") else "")
            for kind, call in (("fit", jaxlr.fit), ("sweep x3", jaxlr.sweep)):
                extra = {} if kind == "fit" else {"l2": [1e-3, 1e-2, 1e-1]}
                a, b = call(X, y, solver=solver, **{**options, **extra}), call(Xd, y, solver=solver, **{**options, **extra})
                diff = max(float(np.max(np.abs(np.asarray(a.coef) - np.asarray(b.coef)))),
                           float(np.max(np.abs(np.asarray(a.intercept) - np.asarray(b.intercept)))))
                rows.append({"solver": name, "kind": kind, "max_abs_diff": diff, "met": diff <= 1e-6})
    return rows


# ----------------------------------------------------------------------------- large problems

FIT_JAXLR = """
import json, time
t0 = time.perf_counter()
import numpy as np, scipy.sparse as sp
X = sp.load_npz({path!r}); y = np.load({labels!r})
t_load = time.perf_counter() - t0
import jax, jaxlr
from bench.common import peak_rss_bytes
from bench.sparse import objective64
if {cache!r}:
    jaxlr.enable_compilation_cache({cache!r})
def fit(tol):
    t = time.perf_counter()
    r = jaxlr.fit(X, y, solver="lbfgs", l2={l2}, tol=tol, steps=5000)
    jax.block_until_ready(r.coef)
    return r, time.perf_counter() - t
r, first = fit({tol})
peak = peak_rss_bytes()
r2, second = fit({tol})
out = {{"first_s": first, "warm_s": second, "load_s": t_load, "peak_rss_bytes": peak,
       "n_iter": int(r.n_iter), "status": r.status_name, "residual": float(r.residual),
       "coef": np.asarray(r.coef, np.float64).tolist(), "intercept": float(r.intercept)}}
target = {target!r}
if target is not None:  # the loosest tol whose answer is as good as scikit-learn's (tol is traced: no compile)
    for tol in (3e-3, 1e-3, 5e-4, 3e-4, 2e-4, {tol}):
        r3, t3 = fit(tol)
        f = objective64(X, y, r3.coef, float(r3.intercept), {l2})
        if f <= target or tol == {tol}:
            out["to_sklearn_objective"] = {{"tol": tol, "seconds": t3, "n_iter": int(r3.n_iter), "objective": f}}
            break
print(json.dumps(out))
"""

FIT_SKLEARN = """
import json, time
import numpy as np, scipy.sparse as sp
X = sp.load_npz({path!r}); y = np.load({labels!r})
from sklearn.linear_model import LogisticRegression
from bench.common import peak_rss_bytes
times = []
for _ in range(2):
    clf = LogisticRegression(C=1.0 / ({l2} * X.shape[0]), solver="lbfgs", tol={tol}, max_iter=5000)
    t = time.perf_counter(); clf.fit(X, y); times.append(time.perf_counter() - t)
print(json.dumps({{"first_s": times[0], "warm_s": min(times), "peak_rss_bytes": peak_rss_bytes(),
                  "n_iter": int(np.max(clf.n_iter_)), "coef": clf.coef_[0].tolist(),
                  "intercept": float(clf.intercept_[0])}}))
"""


def objective64(X, y, coef, intercept, l2) -> float:
    """The objective in float64 on the host (scipy product): mean log-loss + 0.5 l2 ||w||^2."""
    coef = np.asarray(coef, np.float64)
    z = X.astype(np.float64) @ coef + intercept
    loss = np.logaddexp(0.0, z) - y * z
    return float(loss.mean() + 0.5 * l2 * coef @ coef)


def large_fit(tmp: Path, m: int, n: int, per_row: int, l2: float | None = None, tol: float = 1e-4) -> dict:
    """``jaxlr.fit`` (lbfgs, L2, to ``tol``) on a float32 CSR in fresh processes, with an empty
    and then a warm persistent cache, against scikit-learn's lbfgs on the same matrix and tol.
    ``l2`` defaults to ``1 / m``: scikit-learn's default ``C = 1``."""
    l2 = 1.0 / m if l2 is None else l2
    X = random_csr(m, n, per_row, np.float32, seed=7)
    y = planted_labels(X, seed=7)
    path, labels = str(tmp / "large.npz"), str(tmp / "large_y.npy")
    sp.save_npz(path, X, compressed=False)
    np.save(labels, y)
    cache = str(tmp / "cache")
    args = dict(path=path, labels=labels, l2=l2, tol=tol)
    out = {"m": m, "n": n, "nnz": int(X.nnz), "l2": l2, "tol": tol, "dtype": "float32",
           "csr_bytes": int(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes)}
    out["sklearn"] = run_fresh(FIT_SKLEARN.format(**args), timeout=1800)
    sk = out["sklearn"]
    sk["objective"] = objective64(X, y, sk.pop("coef"), sk.pop("intercept"), l2)
    out["jaxlr_cold"] = run_fresh(FIT_JAXLR.format(cache=cache, target=None, **args), timeout=1800)
    out["jaxlr_warm_cache"] = run_fresh(FIT_JAXLR.format(cache=cache, target=sk["objective"], **args), timeout=1800)
    for key in ("jaxlr_cold", "jaxlr_warm_cache"):
        r = out[key]
        r["objective"] = objective64(X, y, r.pop("coef"), r.pop("intercept"), l2)
    same = out["jaxlr_warm_cache"].get("to_sklearn_objective")
    out["speedup_same_objective"] = sk["warm_s"] / same["seconds"] if same else None
    cold, warm = out["jaxlr_cold"], out["jaxlr_warm_cache"]
    out["compile_s"] = cold["first_s"] - cold["warm_s"]
    out["speedup_first_call"] = sk["first_s"] / warm["first_s"]  # fresh process, persistent cache warm
    out["speedup_first_call_cold"] = sk["first_s"] / cold["first_s"]
    out["speedup_run"] = sk["warm_s"] / cold["warm_s"]  # compiled, both warm
    out["peak_rss_ok"] = max(cold["peak_rss_bytes"], warm["peak_rss_bytes"]) < 1.5 * 2**30
    return out


CLI_FIT = """
import json, sys, time
t = time.perf_counter()
from jaxlr.cli import main
code = main({argv!r})
from bench.common import peak_rss_bytes
print(json.dumps({{"exit": code, "seconds": time.perf_counter() - t, "peak_rss_bytes": peak_rss_bytes()}}))
"""


def libsvm_fit(tmp: Path, m: int, n: int, per_row: int, l2: float = 1e-4) -> dict:
    """A LIBSVM file of text-like rows through ``jaxlr fit`` in a fresh process: peak RSS."""
    from sklearn.datasets import dump_svmlight_file

    X = random_csr(m, n, per_row, np.float64, seed=11, skew=True)
    y = planted_labels(X, seed=11)
    path = tmp / "large.svm"
    dump_svmlight_file(X, y, str(path))
    out = {"m": m, "n": n, "nnz": int(X.nnz), "file_bytes": path.stat().st_size, "l2": l2,
           "dense_float64_bytes": m * n * 8}
    del X
    argv = ["fit", str(path), "--out", str(tmp / "libsvm_out"), "--l2", str(l2), "--quiet", "--no-cache"]
    res = run_fresh(CLI_FIT.format(argv=argv), timeout=1800)
    out.update(res)
    with open(tmp / "libsvm_out" / "run.json") as f:
        run = json.load(f)
    with open(tmp / "libsvm_out" / "results.csv") as f:
        row = dict(zip(*(line.strip().split(",") for line in f.readlines()[:2])))
    out.update(status=row["status"], n_iter=int(row["n_iter"]), train_auc=float(row["train_auc"]),
               compile_s=run["compile_time_s"], warnings=run.get("warnings", []))
    out["peak_rss_ok"] = res["peak_rss_bytes"] < 1.5 * 2**30
    return out


def measure(quick: bool, tmp: Path, tiny: bool = False) -> dict:
    """Everything sparse: kernels, equality, the two large targets (smaller in quick/tiny mode)."""
    res = {"kernels": kernels(quick, tiny), "equality": equality(tiny)}
    if tiny:
        res["large_fit"] = large_fit(tmp, 4_000, 2_000, 10)
        res["libsvm"] = libsvm_fit(tmp, 1_000, 4_000, 20)
    elif quick:
        res["large_fit"] = large_fit(tmp, 50_000, 25_000, 50)
        res["libsvm"] = libsvm_fit(tmp, 10_000, 50_000, 100)
    else:
        res["large_fit"] = large_fit(tmp, 200_000, 100_000, 50)
        res["libsvm"] = libsvm_fit(tmp, 50_000, 200_000, 100)
    return res


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sparse", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=("kernels", "equality", "large_fit", "libsvm"))
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    from .report import sparse_markdown

    with tempfile.TemporaryDirectory() as tmp:
        if args.only:
            quick, tiny = args.quick or args.tiny, args.tiny
            size = {"large_fit": ((4_000, 2_000, 10) if tiny else (50_000, 25_000, 50) if quick else (200_000, 100_000, 50)),
                    "libsvm": ((1_000, 4_000, 20) if tiny else (10_000, 50_000, 100) if quick else (50_000, 200_000, 100))}
            res = {"kernels": lambda: kernels(quick, tiny), "equality": lambda: equality(tiny),
                   "large_fit": lambda: large_fit(Path(tmp), *size["large_fit"]),
                   "libsvm": lambda: libsvm_fit(Path(tmp), *size["libsvm"])}[args.only]()
            res = {args.only: res}
        else:
            res = measure(args.quick or args.tiny, Path(tmp), args.tiny)
    print(sparse_markdown(res))
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
