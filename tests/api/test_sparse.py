"""Sparse X end to end: every input format, every solver, sweeps and inference give what the
dense path gives (float64), bad sparse input is a clear error before anything compiles, and
nothing densifies X."""

import warnings

import jax
import numpy as np
import optax
import pytest
import scipy.sparse as sp
from jax.experimental import sparse as jsparse

import jaxlr
from jaxlr._core import sparse as _sparse
from jaxlr._train import data as _data
from jaxlr._train import layout as _layout

TOL = 1e-6  # issue 14: sparse == dense to 1e-6 (float64); sums run in another order, and a
# solver stopping at tol=1e-9 can stop one step apart on either side of the optimum


def problem(m=120, n=15, seed=0, classes=2):
    rng = np.random.default_rng(seed)
    X = (rng.random((m, n)) < 0.3) * rng.standard_normal((m, n))
    X[:, 4] = 0.0  # an empty column
    z = X @ rng.standard_normal(n) + 0.5 * rng.standard_normal(m)
    y = (z > 0).astype(float) if classes == 2 else np.digitize(z, np.quantile(z, [1 / 3, 2 / 3]))
    return sp.csr_matrix(X), X, y


S, XD, Y = problem()
S3, XD3, Y3 = problem(seed=1, classes=3)

FORMATS = {
    "csr_matrix": lambda A: sp.csr_matrix(A),
    "csc_matrix": lambda A: sp.csc_matrix(A),
    "coo_matrix": lambda A: sp.coo_matrix(A),
    "csr_array": lambda A: sp.csr_array(A),
    "csc_array": lambda A: sp.csc_array(A),
    "coo_array": lambda A: sp.coo_array(A),
    "lil_matrix": lambda A: sp.lil_matrix(A),
    "BCOO": lambda A: jsparse.BCOO.from_scipy_sparse(sp.coo_matrix(A)),
    "BCSR": lambda A: jsparse.BCSR.from_scipy_sparse(sp.csr_matrix(A)),
}


def close(a, b, tol=TOL):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


def same_fit(a, b):
    """Same models. Softmax intercepts are only defined up to a shift shared by all classes (an
    unpenalized null direction, where Newton's damped solve lands by rounding), so they are
    compared centred. A fit to tolerance may stop one step apart (rounding decides the last
    comparison with tol); fixed budgets take exactly the same steps."""
    close(a.coef, b.coef)
    ia, ib = np.asarray(a.intercept), np.asarray(b.intercept)
    if len(a.classes) > 2:
        ia, ib = ia - ia.mean(-1, keepdims=True), ib - ib.mean(-1, keepdims=True)
    close(ia, ib)
    close(a.objective, b.objective)
    np.testing.assert_array_equal(np.asarray(a.status), np.asarray(b.status))
    assert np.max(np.abs(np.asarray(a.n_iter) - np.asarray(b.n_iter))) <= (1 if a.config["tol"] else 0)


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_validates_to_the_same_csr(fmt):
    out = _data.check_features(FORMATS[fmt](S))
    assert isinstance(out, sp.csr_matrix) and out.has_canonical_format and out.dtype == np.float64
    np.testing.assert_array_equal(out.toarray(), XD)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_fits_like_dense(fmt):
    dense = jaxlr.fit(XD, Y, solver="lbfgs", l2=1e-2, tol=1e-9)
    same_fit(jaxlr.fit(FORMATS[fmt](S), Y, solver="lbfgs", l2=1e-2, tol=1e-9), dense)


def test_dtype_follows_input_and_ints_become_float():
    f32 = _data.check_features(S.astype(np.float32))
    assert f32.dtype == np.float32
    counts = sp.csr_matrix((np.abs(XD) * 3).astype(np.int64))
    assert _data.check_features(counts).dtype == np.float64
    assert _data.check_features(counts.astype(bool)).dtype == np.float64
    r = jaxlr.fit(S.astype(np.float32), Y, solver="lbfgs", l2=1e-2)
    assert r.coef.dtype == np.float32
    close(r.coef, jaxlr.fit(XD.astype(np.float32), Y, solver="lbfgs", l2=1e-2).coef, 1e-5)


def test_duplicates_summed_unsorted_sorted_input_untouched():
    rows, cols, vals = [0, 2, 0, 1, 0], [3, 1, 3, 0, 1], [1.0, 2.0, 4.0, 5.0, 7.0]
    coo = sp.coo_matrix((vals, (rows, cols)), shape=(3, 4))
    out = _data.check_features(coo)
    np.testing.assert_array_equal(out.toarray(), coo.toarray())  # (0, 3) holds 1 + 4
    assert out.has_canonical_format and out.nnz == 4
    unsorted = sp.csr_matrix((np.array([2.0, 1.0]), np.array([3, 0]), np.array([0, 2, 2, 2])), shape=(3, 4))
    before = unsorted.indices.copy()
    out = _data.check_features(unsorted)
    np.testing.assert_array_equal(out.indices[:2], [0, 3])
    np.testing.assert_array_equal(unsorted.indices, before)  # the caller's matrix is not modified
    np.testing.assert_array_equal(out.toarray(), unsorted.toarray())


def test_nothing_is_densified(monkeypatch):
    """The sparse path never calls toarray/todense, validation included."""
    def refuse(self, *a, **k):
        raise AssertionError("densified")

    for cls in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix):
        monkeypatch.setattr(cls, "toarray", refuse)
        monkeypatch.setattr(cls, "todense", refuse)
    S_ = sp.coo_matrix(XD)
    r = jaxlr.fit(S_, Y, solver="lbfgs", l2=1e-2)
    jaxlr.sweep(S_, Y, solver="gd", l2=[1e-2, 1e-1], steps=5, tol=None)
    jaxlr.predict_proba(r, S_)
    jaxlr.inference(r, S_, Y)


BAD = [
    (sp.csr_matrix(([1.0, np.nan], ([0, 5], [1, 3])), shape=(120, 15)), "X contains NaN or inf.*row 5, column 3"),
    (sp.coo_matrix(([np.inf], ([2], [2])), shape=(120, 15)), "X contains NaN or inf"),
    (sp.csr_matrix(([1 + 2j], ([0], [0])), shape=(120, 15)), "X must be real"),
    (sp.csr_matrix((0, 15)), "X is empty"),
    (sp.coo_array(np.ones(120)), "X must be 2-D"),
    (jsparse.BCOO.fromdense(np.ones((2, 120, 15)), n_batch=1), "BCOO/BCSR must be 2-D without batch"),
]


@pytest.mark.parametrize("X, match", BAD)
def test_bad_sparse_input_names_the_argument(X, match):
    y = Y if X.shape[0] == 120 else np.zeros(0)
    for call in (lambda: jaxlr.fit(X, y), lambda: jaxlr.sweep(X, y, l2=[0.1, 1.0])):
        with pytest.raises(ValueError, match=match):
            call()


def test_mesh_with_sparse_is_refused():
    import jax

    from jaxlr.sharding import make_mesh  # the submodule is imported on use, not by ``import jaxlr``

    mesh = make_mesh(1, 1, jax.devices()[:1])
    with pytest.raises(ValueError, match="mesh cannot hold a sparse X"):
        jaxlr.fit(S, Y, mesh=mesh)
    with pytest.raises(ValueError, match="mesh cannot hold a sparse X"):
        jaxlr.sweep(S, Y, l2=[0.1, 1.0], mesh=mesh)


def test_all_zero_matrix_fits_the_intercept_only():
    Z = sp.csr_matrix(XD.shape)
    r = jaxlr.fit(Z, Y, solver="lbfgs", tol=1e-10)
    np.testing.assert_array_equal(np.asarray(r.coef), 0.0)
    close(r.intercept, np.log(Y.mean() / (1 - Y.mean())))
    same_fit(r, jaxlr.fit(np.zeros(XD.shape), Y, solver="lbfgs", tol=1e-10))


# ----------------------------------------------------------------------------- solvers

SOLVERS = [  # the optax family shares one code path (value_and_grad of the objective): two of it here
    ("gd", dict(learning_rate=0.5, steps=200, tol=None, l2=1e-2)),
    ("gd", dict(learning_rate=0.5, steps=300, tol=1e-4)),
    ("adam", dict(learning_rate=0.05, steps=100, tol=None, l2=1e-2)),
    (optax.adabelief(0.05), dict(steps=100, tol=None, l2=1e-2)),
    ("lbfgs", dict(l2=1e-2, tol=1e-9)),
    ("newton", dict(l2=1e-2, tol=1e-9)),
    ("fista", dict(l1=1e-2, tol=1e-9, steps=3000)),  # L1
    ("fista", dict(l1=5e-3, l2=1e-2, tol=1e-9, steps=3000)),  # elastic net
    ("gd", dict(learning_rate=0.5, steps=60, batch_size=32, l2=1e-2)),  # minibatches: row slices
]


@pytest.mark.parametrize("y", [Y, Y3], ids=["binary", "multinomial"])
def test_objective_and_gradient_like_dense(y):
    """What every first-order solver consumes: the objective and its gradient (jax.grad)."""
    import jax

    from jaxlr import Params
    from jaxlr.losses import smooth_objective

    rng = np.random.default_rng(5)
    shape = (XD.shape[1],) if y is Y else (XD.shape[1], 3)
    params = Params(rng.standard_normal(shape), rng.standard_normal(shape[1:]))
    w = rng.random(len(y))
    labels = y.astype(float) if y is Y else y.astype(np.int32)
    X = S if y is Y else S3
    dense = XD if y is Y else XD3
    for design in (_sparse.sparse(X, True), _sparse.sparse(X, False)):
        got = jax.value_and_grad(smooth_objective)(params, design, labels, w, 0.1)
        want = jax.value_and_grad(smooth_objective)(params, dense, labels, w, 0.1)
        for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
            close(a, b, 1e-12)


@pytest.mark.parametrize("solver, options", SOLVERS, ids=[f"{s if isinstance(s, str) else 'optax'}-{i}"
                                                          for i, (s, _) in enumerate(SOLVERS)])
def test_each_solver_fits_like_dense(solver, options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jaxlr.ConvergenceWarning)
        same_fit(jaxlr.fit(S, Y, solver=solver, **options), jaxlr.fit(XD, Y, solver=solver, **options))


@pytest.mark.parametrize("solver", ["lbfgs", "newton"])
def test_multinomial_fits_like_dense(solver):
    same_fit(jaxlr.fit(S3, Y3, solver=solver, l2=1e-2, tol=1e-9), jaxlr.fit(XD3, Y3, solver=solver, l2=1e-2, tol=1e-9))


@pytest.mark.parametrize("halving", [None, 2])
def test_multinomial_sweep_with_folds_scores_like_dense(halving):
    """Held-out losses of a multinomial sweep on sparse X (computed on the host) equal dense ones."""
    options = dict(l2=[1e-3, 1e-2, 1e-1, 1.0], folds=2, solver="lbfgs", tol=1e-9, halving=halving)
    sparse, dense = jaxlr.sweep(S3, Y3, **options), jaxlr.sweep(XD3, Y3, **options)
    close(sparse.validation_loss, dense.validation_loss)
    assert np.isfinite(sparse.validation_loss).all()


def test_sample_and_class_weights_like_dense():
    w = np.random.default_rng(4).random(len(Y)) * 2
    options = dict(solver="lbfgs", l2=1e-2, tol=1e-9, sample_weight=w, class_weight="balanced")
    same_fit(jaxlr.fit(S, Y, **options), jaxlr.fit(XD, Y, **options))


@pytest.mark.parametrize("solver, options", [
    ("gd", dict(learning_rate=[0.1, 0.5], steps=100, tol=None)),
    ("lbfgs", dict(tol=1e-9)),
    ("newton", dict(tol=1e-9)),
    ("fista", dict(l1=[1e-3, 1e-2], tol=1e-8, steps=2000)),
])
def test_sweeps_share_one_sparse_x(solver, options):
    """K lanes on one sparse X (the products run lanes-last) give the dense sweep's models."""
    a = jaxlr.sweep(S, Y, solver=solver, l2=[1e-3, 1e-2, 1e-1], **options)
    b = jaxlr.sweep(XD, Y, solver=solver, l2=[1e-3, 1e-2, 1e-1], **options)
    same_fit(a, b)


def test_sweep_with_folds_and_fit_many_like_dense():
    a = jaxlr.sweep(S, Y, solver="lbfgs", l2=[1e-2, 1e-1], folds=3, tol=1e-9)
    same_fit(a, jaxlr.sweep(XD, Y, solver="lbfgs", l2=[1e-2, 1e-1], folds=3, tol=1e-9))
    a = jaxlr.fit_many(S3, Y3, solver="lbfgs", l2=[1e-2, 1e-1], tol=1e-9)
    same_fit(a, jaxlr.fit_many(XD3, Y3, solver="lbfgs", l2=[1e-2, 1e-1], tol=1e-9))


# ----------------------------------------------------------------------------- after the fit


def test_predict_like_dense():
    r = jaxlr.fit(S, Y, solver="lbfgs", l2=1e-2)
    s = jaxlr.sweep(S3, Y3, solver="lbfgs", l2=[1e-2, 1e-1])
    close(jaxlr.predict_proba(r, S.tocoo()), jaxlr.predict_proba(r, XD))
    close(jaxlr.predict_proba(s, S3), jaxlr.predict_proba(s, XD3))
    np.testing.assert_array_equal(jaxlr.predict(r, S), jaxlr.predict(r, XD))
    with pytest.raises(ValueError, match="X must be 2-D with 15 features"):
        jaxlr.predict_proba(r, S[:, :3])


@pytest.mark.parametrize("case", ["mle", "robust", "l2", "no_intercept", "multinomial", "sweep"])
def test_inference_like_dense(case):
    X, XD_, y = (S3, XD3, Y3) if case == "multinomial" else (S, XD, Y)
    if case == "sweep":
        result = jaxlr.sweep(XD_, y, l2=[1e-2, 1e-1], tol=1e-10, folds=2)
    else:
        result = jaxlr.fit(XD_, y, tol=1e-10, l2=1e-2 if case == "l2" else 0.0,
                           fit_intercept=case != "no_intercept")
    robust = case == "robust"
    a, b = jaxlr.inference(result, X, y, robust=robust), jaxlr.inference(result, XD_, y, robust=robust)
    close(a.std_err, b.std_err)
    close(a.covariance, b.covariance)
    assert a.names == b.names and a.kind == b.kind


def test_inference_refuses_a_hessian_that_cannot_fit(monkeypatch):
    from jaxlr._api import inference as _inference

    monkeypatch.setattr(_inference, "MAX_SPARSE_PARAMS", 10)
    r = jaxlr.fit(S, Y, solver="lbfgs", l2=1e-2)
    with pytest.raises(ValueError, match="X: inference needs the \\(16 x 16\\) Hessian"):
        jaxlr.inference(r, S, Y)


def test_full_batches_build_the_chunked_columns_minibatches_do_not(monkeypatch):
    """Off the CPU every full-batch solver gets the chunked columns (Newton too: its Hessian comes
    from gram and rmatmul). On the CPU the solvers that read both products many times and form no
    Gram keep X on the host (scipy's products, two threads: ``host_sparse``), Newton gets the
    chunked rows alone (a few steps); minibatches read rows everywhere."""
    built = []
    real, real_host = _layout.sparse, _layout.host_sparse

    def spy(X, transpose=False, **kw):
        built.append(transpose)
        return real(X, transpose, **kw)

    def spy_host(X, shape=None):
        built.append("host")
        return real_host(X, shape)

    monkeypatch.setattr(_layout, "sparse", spy)
    monkeypatch.setattr(_layout, "host_sparse", spy_host)
    jaxlr.fit(S, Y, solver="lbfgs", l2=1e-2)
    jaxlr.fit(S, Y, solver="newton", l2=1e-2)
    jaxlr.fit(S, Y, solver="gd", batch_size=32, steps=5)
    cpu = jax.default_backend() == "cpu"
    assert built == (["host", False, False] if cpu else [True, True, False])


def test_standardize_divides_by_the_weighted_standard_deviation_of_the_sample_weights():
    """standardize=True divides every column by its standard deviation weighted by sample_weight
    alone (never by the class weights, as StandardScaler(sample_weight=...)), sparse X from its
    stored values: the dense fit on X / std, and dense X (centred too) gives the same model."""
    X = XD * np.geomspace(0.1, 100.0, XD.shape[1]) + np.where(XD != 0, 3.0, 0.0)
    w = np.random.default_rng(3).uniform(0.2, 3.0, X.shape[0])
    mean = np.average(X, axis=0, weights=w)
    std = np.sqrt(np.average((X - mean) ** 2, axis=0, weights=w))
    std = np.where(std > 0, std, 1.0)
    options = dict(solver="lbfgs", l2=1e-2, tol=1e-10, sample_weight=w, class_weight="balanced")
    a = jaxlr.fit(sp.csr_matrix(X), Y, standardize=True, **options)
    b = jaxlr.fit(X / std, Y, **options)
    c = jaxlr.fit(X, Y, standardize=True, **options)
    close(a.coef, np.asarray(b.coef) / std)
    close(a.intercept, b.intercept)
    close(c.coef, a.coef)
    close(c.intercept, a.intercept)


def test_scale_warning_on_sparse_columns():
    X = XD.copy()
    X[:, 2] *= 1e6
    from jaxlr._api.diagnostics import ScaleWarning

    with pytest.warns(ScaleWarning, match="column 2"):
        jaxlr.fit(sp.csr_matrix(X), Y, solver="lbfgs", l2=1e-2, steps=20, tol=None)
