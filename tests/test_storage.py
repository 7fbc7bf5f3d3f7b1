"""The storage format never changes the answer (issue 24): the same model from dense X, CSR, CSC,
COO, BCOO, a LIBSVM file and a sparse ``.npz`` (both read as the command line reads them), for
every combination of ``standardize``, sample weights, class weights, L1/L2 and multinomial; and
``standardize=True`` is the model of scikit-learn's ``StandardScaler`` pipeline (sample weights
in the column statistics, class weights not)."""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from jax.experimental import sparse as jsparse

import jaxlr
from jaxlr.cli import _io

M, N = 60, 4
OPTIONS = list(itertools.product([False, True], [False, True], [None, "balanced"], ["l2", "l1"], [2, 3]))


def _data(classes: int):
    rng = np.random.default_rng(classes)
    X = (rng.random((M, N)) < 0.6) * (rng.standard_normal((M, N)) + 2.0) * np.array([0.5, 1.0, 2.0, 3.0])
    X[-1] = 1.0  # every column has a value in the last row: LIBSVM files know columns by their last index
    z = X / X.std(0) @ rng.standard_normal(N) + rng.standard_normal(M)
    y = (z > np.median(z)).astype(int) if classes == 2 else np.digitize(z, np.quantile(z, [1 / 3, 2 / 3]))
    return X, y, rng.uniform(0.2, 3.0, M)


def _bcoo(X):
    """A ``jax.experimental.sparse.BCOO`` of X, built from its indices (``fromdense`` compiles)."""
    coo = sp.coo_matrix(X)
    return jsparse.BCOO((coo.data, np.column_stack([coo.row, coo.col])), shape=X.shape)


@pytest.fixture(scope="module")
def formats(tmp_path_factory):
    """Per number of classes, ``name -> (X, y)`` for every storage format; the files are read by
    the command line's loader (``jaxlr.cli._io.load``)."""
    from sklearn.datasets import dump_svmlight_file

    out = {}
    for classes in (2, 3):
        X, y, _ = _data(classes)
        d = tmp_path_factory.mktemp(f"storage{classes}")
        dump_svmlight_file(X, y, str(d / "data.svm"))
        csr = sp.csr_matrix(X)
        np.savez(d / "data.npz", y=y, format="csr", shape=X.shape, data=csr.data, indices=csr.indices,
                 indptr=csr.indptr)
        files = {name: _io.load(str(d / f"data.{ext}")) for name, ext in (("libsvm", "svm"), ("npz", "npz"))}
        out[classes] = {"dense": (X, y), "csr": (csr, y), "csc": (sp.csc_matrix(X), y), "coo": (sp.coo_matrix(X), y),
                        "bcoo": (_bcoo(X), y),
                        **{name: (t.X, t.y.astype(int)) for name, t in files.items()}}
    return out


@pytest.mark.parametrize("standardize, weighted, class_weight, penalty, classes", OPTIONS)
def test_every_storage_format_gives_the_same_model(formats, standardize, weighted, class_weight, penalty, classes):
    _, _, w = _data(classes)
    kwargs = dict(standardize=standardize, sample_weight=w if weighted else None, class_weight=class_weight,
                  l2=1e-2, l1=1e-2 if penalty == "l1" else 0.0, tol=1e-9, steps=5000,
                  solver="fista")  # one solver for L1 and L2: half the programs to compile
    fits = {name: jaxlr.fit(X, y, **kwargs) for name, (X, y) in formats[classes].items()}
    dense = fits.pop("dense")
    assert dense.status_name == "converged"
    for name, fit in fits.items():
        assert fit.status_name == "converged", name
        np.testing.assert_allclose(fit.coef, dense.coef, rtol=1e-5, atol=1e-7, err_msg=name)
        # softmax intercepts are defined up to a shift shared by the classes (the penalty pins the coefficients)
        shift = np.mean(fit.intercept) - np.mean(dense.intercept) if classes > 2 else 0.0
        np.testing.assert_allclose(fit.intercept - shift, dense.intercept, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("sparse", [False, True])
def test_standardize_is_the_standard_scaler_pipeline_with_class_and_sample_weights(sparse):
    """A user coming from ``make_pipeline(StandardScaler(), LogisticRegression(class_weight=...))``
    gets the pipeline's model: the scaler sees the sample weights, never the class weights (sparse
    X: ``StandardScaler(with_mean=False)``, the same model: the intercept absorbs the centring)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, w = _data(2)
    y = np.where(np.arange(M) < 15, 1, 0)  # unbalanced classes: the class weights matter
    C = 0.5
    pipe = make_pipeline(StandardScaler(with_mean=not sparse), LogisticRegression(C=C, class_weight="balanced",
                                                                                 tol=1e-12, max_iter=10_000))
    pipe.fit(X, y, standardscaler__sample_weight=w, logisticregression__sample_weight=w)
    scaler, model = pipe[0], pipe[1]
    data = sp.csr_matrix(X) if sparse else X
    counts = np.bincount(y, weights=w)
    S = np.sum(w * (w.sum() / (2 * counts))[y])  # sample times class weights, the objective's total
    ours = jaxlr.fit(data, y, standardize=True, sample_weight=w, class_weight="balanced", l2=1 / (C * S), tol=1e-10)
    np.testing.assert_allclose(ours.coef, model.coef_[0] / scaler.scale_, rtol=1e-6)
    np.testing.assert_allclose(jaxlr.predict_proba(ours, X), pipe.predict_proba(X)[:, 1], rtol=1e-6, atol=1e-9)
