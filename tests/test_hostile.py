"""A hostile-input pass through the Python API (issue 24), the families that run in this process:
shapes, dtypes, values, weights, labels, hyperparameters, sparse formats, separation; files,
output directories, signals and caches run through the command line in
``tests/cli/test_hostile_cli.py``.

Each case is what a new user might pass. Bad input must be refused with a ``ValueError`` /
``TypeError`` of one line that names the argument, before anything compiles; legitimate input
must give the right model (scikit-learn, statsmodels' closed forms or an invariance as the
oracle) with the warnings it deserves and no others. A case fails when the handling is poor (a
message that does not name the argument, a crash, a missing or stray warning) or the answer is
wrong, so a regression in any family fails the suite.
"""

import warnings

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
from jax.experimental import sparse as jsparse

import jaxlr
from jaxlr._api.diagnostics import ScaleWarning
from jaxlr._train.data import dataset

from conftest import traces

RNG = np.random.default_rng(24)
M = 40
X = RNG.standard_normal((M, 3)) * [1.0, 2.0, 0.5] + [0.0, 1.0, -1.0]
Y = (X @ [1.0, -0.5, 0.8] + RNG.standard_normal(M) > 0).astype(int)
W = RNG.uniform(0.5, 2.0, M)
Y3 = np.digitize(X @ [1.0, -0.5, 0.8] + RNG.standard_normal(M), [-0.5, 0.5])
SEPARABLE = X.copy()
SEPARABLE[:, 0] = np.sign(X[:, 0]) * (np.abs(X[:, 0]) + 0.5)  # a margin of 1 around 0 in column 0
Y_SEP = (X[:, 0] > 0).astype(int)
TIGHT = dict(tol=1e-10)


def refused(error, *words):
    """The call raises ``error`` (one line holding every word), before anything compiles."""
    def check(call):
        before = traces()
        with pytest.raises(error) as info:
            call()
        text = str(info.value)
        assert "\n" not in text, text
        for word in words:
            assert word in text, f"{word!r} not in {text!r}"
        assert traces() == before, "compiled before refusing"
    return check


def quiet(call):
    """The call's result, asserting it raised no warning at all."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return call()


def warns(category, *words):
    def check(call):
        with pytest.warns(category) as record:
            result = call()
        texts = [str(w.message) for w in record if issubclass(w.category, category)]
        assert any(all(word in t for word in words) for t in texts), texts
        return result
    return check


def close(a, b, rtol=1e-6, atol=1e-8):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=rtol, atol=atol)


def same_model(a, b, scale=1.0, rtol=1e-6):
    close(a.coef, np.asarray(b.coef) * scale, rtol=rtol, atol=1e-8)
    close(a.intercept, b.intercept, rtol=rtol, atol=1e-7)


def sklearn_pipeline(X_, y, C, with_mean=True, **fit):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(with_mean=with_mean), LogisticRegression(C=C, tol=1e-12, max_iter=10_000))
    return pipe.fit(X_, y, **fit)


def base():
    return quiet(lambda: jaxlr.fit(X, Y, l2=0.1, **TIGHT))


def scaled(column, factor):
    out = X.copy()
    out[:, column] *= factor
    return out


def standardize_matches_the_pipeline(factor):
    """A column scaled by ``factor``: with standardize=True the model is the pipeline's (and the
    same as unscaled, the coefficient divided by the factor): standardizing removes any scale."""
    Xs = scaled(1, factor)
    ours = quiet(lambda: jaxlr.fit(Xs, Y, l2=1 / (0.5 * M), standardize=True, **TIGHT))
    assert ours.status_name == "converged"
    plain = jaxlr.fit(X, Y, l2=1 / (0.5 * M), standardize=True, **TIGHT)
    close(ours.coef, np.asarray(plain.coef) / [1.0, factor, 1.0], rtol=1e-6, atol=0)
    if 1e-150 < factor < 1e150:  # StandardScaler's own moments overflow (or underflow) beyond
        pipe = sklearn_pipeline(Xs, Y, C=0.5)
        close(jaxlr.predict_proba(ours, Xs), pipe.predict_proba(Xs)[:, 1], rtol=1e-6, atol=1e-10)


def intercept_only(X0, weights=None):
    """No features: the intercept is the log-odds of the weighted class frequencies (the null
    model statsmodels fits for its likelihood-ratio test)."""
    result = quiet(lambda: jaxlr.fit(X0, Y, sample_weight=weights, **TIGHT))
    p = np.average(Y, weights=weights)
    assert result.coef.shape == (0,) and result.status_name == "converged"
    close(result.intercept, np.log(p / (1 - p)), rtol=1e-8)
    close(jaxlr.predict_proba(result, X0), np.full(M, p), rtol=1e-8)


def repeated_rows_equal_integer_weights():
    counts = 1 + (np.arange(M) % 3 == 0)  # 54 rows: the shape bucket of 40 (no new program)
    a = jaxlr.fit(X, Y, sample_weight=counts, l2=0.1, **TIGHT)
    b = jaxlr.fit(np.repeat(X, counts, axis=0), np.repeat(Y, counts), l2=0.1, **TIGHT)
    same_model(a, b)


def string_labels_come_back():
    labels = np.where(Y > 0, "spam", "ham")
    result = quiet(lambda: jaxlr.fit(X, labels, l2=0.1))
    assert list(result.classes) == ["ham", "spam"]
    assert set(jaxlr.predict(result, X)) <= {"ham", "spam"}
    same_model(result, jaxlr.fit(X, Y, l2=0.1))


def unpenalized_sweep_on_separated_folds():
    with pytest.warns(jaxlr.PerfectSeparationWarning, match=r"sweep: 2 unpenalized model\(s\)"):
        result = jaxlr.sweep(SEPARABLE, Y_SEP, l2=[0.0, 1.0], folds=2)
    assert [g["l2"] for g in result.grid] == [0.0, 0.0, 1.0, 1.0]


def inference_on_separated_data():
    fitted = jaxlr.fit(SEPARABLE, Y_SEP, steps=30, tol=None, solver="newton")  # warned there too
    with pytest.warns(jaxlr.PerfectSeparationWarning, match="inference: the unpenalized model separates"):
        jaxlr.inference(fitted, SEPARABLE, Y_SEP)


def inference_on_a_separated_sweep():
    grid = jaxlr.sweep(SEPARABLE, Y_SEP, l2=[0.0, 1.0], folds=2, steps=30, solver="newton")
    with pytest.warns(jaxlr.PerfectSeparationWarning, match=r"inference: 2 unpenalized model\(s\) \(index 0, 1\)"):
        jaxlr.inference(grid, SEPARABLE, Y_SEP)


def penalized_separated_sweep_is_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("error", jaxlr.PerfectSeparationWarning)
        jaxlr.sweep(SEPARABLE, Y_SEP, l2=[0.1, 1.0], folds=2)


def same_data(S, dense):
    """Sparse X as the training set sees it (what every fit starts from): the dense values."""
    data = dataset(S, Y)
    assert data.is_sparse and data.X.has_canonical_format and data.X.dtype == np.float64
    np.testing.assert_array_equal(data.X.toarray(), dense)


def sparse_like_dense(S, **kwargs):
    same_model(jaxlr.fit(S, Y, **kwargs, **TIGHT), jaxlr.fit(X, Y, **kwargs, **TIGHT))


def with_entry(value, row=3, col=1, data=X):
    out = data.copy()
    out[row, col] = value
    return out


def coo_with_duplicates():
    coo = sp.coo_matrix(X)
    half = coo.data / 2
    return sp.coo_matrix((np.concatenate([half, half]), (np.tile(coo.row, 2), np.tile(coo.col, 2))), shape=X.shape)


def csr_unsorted():
    csr = sp.csr_matrix(X)
    for r in range(M):  # reverse each row's entries
        lo, hi = csr.indptr[r], csr.indptr[r + 1]
        csr.indices[lo:hi], csr.data[lo:hi] = csr.indices[lo:hi][::-1].copy(), csr.data[lo:hi][::-1].copy()
    csr.has_sorted_indices = False
    return csr


def csr_with_explicit_zeros():
    csr = sp.csr_matrix(X)
    csr.data[::5] = 0.0
    dense = csr.toarray()
    return csr, dense


def explicit_zeros_change_nothing():
    csr, dense = csr_with_explicit_zeros()
    same_model(jaxlr.fit(csr, Y, l2=0.1, standardize=True, **TIGHT), jaxlr.fit(dense, Y, l2=0.1, standardize=True, **TIGHT))


def fit_(**kw):
    args = dict(X=X, y=Y)
    args.update(kw)
    return lambda: jaxlr.fit(**args)


def sweep_(**kw):
    return lambda: jaxlr.sweep(X, Y, **kw)


def estimator_(**params):
    return lambda: jaxlr.LogisticRegression(**params).fit(X, Y)


def labels_of(values):
    return fit_(y=np.asarray(values)[np.arange(M) % len(values)])


CASES = {
    # ------------------------------------------------------------------ shapes
    "shapes: X 1-D": (refused(ValueError, "X must be 2-D"), fit_(X=X[:, 0])),
    "shapes: X 3-D": (refused(ValueError, "X must be 2-D"), fit_(X=X[None])),
    "shapes: no rows": (refused(ValueError, "X is empty"), fit_(X=np.zeros((0, 3)), y=np.zeros(0))),
    "shapes: no features, an intercept-only model": (lambda _: intercept_only(np.zeros((M, 0))), None),
    "shapes: no features, weighted": (lambda _: intercept_only(np.zeros((M, 0)), W), None),
    "shapes: no sparse features": (lambda call: call().X.shape == (M, 0) or pytest.fail("shape"),
                                   lambda: dataset(sp.csr_matrix((M, 0)), Y)),
    "shapes: y longer than X": (refused(ValueError, "y has 41 labels but X has 40 rows"),
                                fit_(y=np.append(Y, 1))),
    "shapes: y as a column": (lambda call: same_model(call(), base()), fit_(y=Y[:, None], l2=0.1, **TIGHT)),
    "shapes: y with two columns": (refused(ValueError, "y must be 1-D"), fit_(y=np.column_stack([Y, Y]))),
    "shapes: ragged rows": (refused(ValueError, "X could not be read"), fit_(X=[[1.0, 2.0], [3.0]], y=[0, 1])),
    "shapes: one row": (refused(ValueError, "at least two classes"), fit_(X=X[:1], y=Y[:1])),
    "shapes: two rows": (lambda call: call().status_name == "converged" or pytest.fail("two rows"),
                         fit_(X=X[:2], y=[0, 1], l2=1.0)),
    "shapes: more features than rows": (lambda call: call().status_name == "converged" or pytest.fail("p > n"),
                                        fit_(X=RNG.standard_normal((4, 7)), y=np.arange(4) % 2, l2=0.1)),
    "shapes: lists of lists": (lambda call: same_model(call(), base()), fit_(X=X.tolist(), y=Y.tolist(), l2=0.1,
                                                                            **TIGHT)),
    "shapes: Fortran order and strides": (lambda call: same_model(call(), base()),
                                          fit_(X=np.asfortranarray(np.repeat(X, 2, axis=1))[:, ::2], l2=0.1, **TIGHT)),
    # ------------------------------------------------------------------ dtypes
    "dtypes: strings": (refused(ValueError, "X must be numeric"), fit_(X=X.astype(str))),
    "dtypes: objects": (refused(ValueError, "X must be numeric"), fit_(X=X.astype(object))),
    "dtypes: complex": (refused(ValueError, "X must be real"), fit_(X=X + 1j)),
    "dtypes: datetimes": (refused(ValueError, "X must be numeric"),
                          fit_(X=np.zeros((M, 3), "datetime64[s]"))),
    "dtypes: booleans as 0/1": (lambda call: same_model(call(), jaxlr.fit((X > 0).astype(float), Y, l2=0.1)),
                                fit_(X=X > 0, l2=0.1)),
    "dtypes: integers as floats": (lambda call: same_model(call(), jaxlr.fit(np.round(X * 10), Y, l2=0.1)),
                                   fit_(X=np.round(X * 10).astype(np.int16), l2=0.1)),
    "dtypes: float32 stays float32": (lambda call: call().coef.dtype == np.float32 or pytest.fail("dtype"),
                                      fit_(X=X.astype(np.float32), l2=0.1)),
    "dtypes: float16 is read as float": (
        lambda call: same_model(call(), jaxlr.fit(X.astype(np.float16).astype(float), Y, l2=0.1)),
        fit_(X=X.astype(np.float16), l2=0.1)),
    "dtypes: a JAX array": (lambda call: same_model(call(), base()), fit_(X=jnp.asarray(X), l2=0.1, **TIGHT)),
    # ------------------------------------------------------------------ values
    "values: NaN": (refused(ValueError, "X contains NaN or inf", "row 3, column 1"), fit_(X=with_entry(np.nan))),
    "values: inf": (refused(ValueError, "X contains NaN or inf"), fit_(X=with_entry(np.inf))),
    "values: -inf": (refused(ValueError, "X contains NaN or inf"), fit_(X=with_entry(-np.inf))),
    "values: a column of 1e300 is named": (warns(ScaleWarning, "column 1", "standardize=True"),
                                           fit_(X=scaled(1, 1e300), l2=0.1, steps=5)),
    "values: a column of 1e-300 is named": (warns(ScaleWarning, "column 1"), fit_(X=scaled(1, 1e-300), l2=0.1,
                                                                                 steps=5)),
    "values: standardize a column of 1e200": (lambda _: standardize_matches_the_pipeline(1e200), None),
    "values: standardize a column of 1e300": (lambda _: standardize_matches_the_pipeline(1e300), None),
    "values: standardize a column of 1e-200": (lambda _: standardize_matches_the_pipeline(1e-200), None),
    "values: standardize a constant column": (
        lambda call: close(call().coef[1], 0.0), fit_(X=with_entry(7.0, row=slice(None)), l2=0.1, standardize=True)),
    "values: all zeros": (lambda call: close(call().coef, 0.0), fit_(X=np.zeros((M, 3)), **TIGHT)),
    "values: -0.0": (lambda call: same_model(call(), base()), fit_(X=np.where(X == 0, -0.0, X), l2=0.1, **TIGHT)),
    # ------------------------------------------------------------------ weights
    "weights: negative": (refused(ValueError, "sample_weight must be non-negative"), fit_(sample_weight=-W)),
    "weights: NaN": (refused(ValueError, "sample_weight contains NaN or inf"),
                     fit_(sample_weight=np.where(np.arange(M) == 2, np.nan, W))),
    "weights: inf": (refused(ValueError, "sample_weight contains NaN or inf"),
                     fit_(sample_weight=np.where(np.arange(M) == 2, np.inf, W))),
    "weights: all zero": (refused(ValueError, "sample_weight must have a positive sum"), fit_(sample_weight=0 * W)),
    "weights: wrong length": (refused(ValueError, "sample_weight must have shape (40,)"), fit_(sample_weight=W[:5])),
    "weights: two columns": (refused(ValueError, "sample_weight must have shape"),
                             fit_(sample_weight=np.column_stack([W, W]))),
    "weights: strings": (refused(ValueError, "sample_weight must be numeric"), fit_(sample_weight=W.astype(str))),
    "weights: a scalar": (lambda call: same_model(call(), base()), fit_(sample_weight=2.0, l2=0.1, **TIGHT)),
    "weights: integers are repetitions": (lambda _: repeated_rows_equal_integer_weights(), None),
    "weights: balanced with a class of zero weight": (
        refused(ValueError, "class_weight='balanced'", "class 1", "total sample_weight of 0"),
        fit_(sample_weight=np.where(Y == 1, 0.0, 1.0), class_weight="balanced")),
    "weights: class_weight key not a class": (refused(ValueError, "class_weight has key 5"),
                                              fit_(class_weight={0: 1.0, 5: 2.0})),
    "weights: negative class weight": (refused(ValueError, "class_weight[0] must be >= 0"),
                                       fit_(class_weight={0: -1.0})),
    "weights: class_weight misspelt": (refused(ValueError, "class_weight must be None, 'balanced' or a dict"),
                                       fit_(class_weight="balance")),
    "weights: class_weight a list": (refused(ValueError, "class_weight must be None, 'balanced' or a dict"),
                                     fit_(class_weight=[1.0, 2.0])),
    "weights: standardize with balanced classes is the pipeline's model": (
        lambda call: close(jaxlr.predict_proba(call(), X), sklearn_pipeline(
            X, Y, C=0.5, logisticregression__sample_weight=(M / (2 * np.bincount(Y)))[Y]).predict_proba(X)[:, 1],
            rtol=1e-6),
        fit_(standardize=True, class_weight="balanced", l2=1 / (0.5 * M), **TIGHT)),
    "weights: standardize with sample weights is the pipeline's model": (
        lambda call: close(jaxlr.predict_proba(call(), X), sklearn_pipeline(
            X, Y, C=0.5, standardscaler__sample_weight=W, logisticregression__sample_weight=W).predict_proba(X)[:, 1],
            rtol=1e-6),
        fit_(standardize=True, sample_weight=W, l2=1 / (0.5 * W.sum()), **TIGHT)),
    # ------------------------------------------------------------------ labels
    "labels: floats with 11 values": (refused(ValueError, "Unknown label type: continuous"),
                                      fit_(y=np.round(RNG.random(M), 1))),
    "labels: two non-integer floats": (refused(ValueError, "Unknown label type: continuous"), labels_of([0.5, 1.5])),
    "labels: many floats": (refused(ValueError, "y"), fit_(y=RNG.standard_normal(M))),
    "labels: NaN": (refused(ValueError, "y contains NaN"), fit_(y=np.where(np.arange(M) == 1, np.nan, Y))),
    "labels: None": (refused(ValueError, "y contains missing labels"), labels_of([0, None, 1])),
    "labels: one class": (refused(ValueError, "y must contain at least two classes"), fit_(y=np.ones(M))),
    "labels: mixed strings and numbers": (refused(ValueError, "y has labels that cannot be compared"),
                                          labels_of(np.array(["a", 1], dtype=object))),
    "labels: strings come back": (lambda _: string_labels_come_back(), None),
    "labels: booleans": (lambda call: same_model(call(), base()), fit_(y=Y.astype(bool), l2=0.1, **TIGHT)),
    "labels: integer-valued floats are classes": (lambda call: list(call().classes) == [0, 1, 2] or pytest.fail(),
                                                  lambda: dataset(X, Y3.astype(float))),
    "labels: huge integers": (lambda call: list(call().classes) == [-5, 10**12] or pytest.fail("classes"),
                              fit_(y=np.where(Y > 0, 10**12, -5), l2=0.1)),
    # ------------------------------------------------------------------ hyperparameters
    "hyperparameters: negative l2": (refused(ValueError, "l2 must be >= 0"), fit_(l2=-1.0)),
    "hyperparameters: NaN l2": (refused(ValueError, "l2 must be finite"), fit_(l2=np.nan)),
    "hyperparameters: inf l2": (refused(ValueError, "l2 must be finite"), fit_(l2=np.inf)),
    "hyperparameters: l2 a string": (refused(TypeError, "l2"), fit_(l2="0.1")),
    "hyperparameters: l2 a list in fit": (refused((TypeError, ValueError), "l2"), fit_(l2=[0.1, 1.0])),
    "hyperparameters: negative l1": (refused(ValueError, "l1 must be >= 0"), fit_(l1=-1.0)),
    "hyperparameters: learning_rate 0": (refused(ValueError, "learning_rate must be > 0"), fit_(learning_rate=0.0)),
    "hyperparameters: steps -1": (refused(ValueError, "steps must be >= 0"), fit_(steps=-1)),
    "hyperparameters: steps 2.5": (refused(TypeError, "steps must be an integer"), fit_(steps=2.5)),
    "hyperparameters: steps 10**12": (refused(ValueError, "steps must be <= 2147483647"), fit_(steps=10**12)),
    "hyperparameters: steps 2**70": (refused(ValueError, "steps must be <= 2147483647"), fit_(steps=2**70)),
    "hyperparameters: steps True": (refused(TypeError, "steps must be a number, got a bool"), fit_(steps=True)),
    "hyperparameters: tol -1": (refused(ValueError, "tol must be >= 0"), fit_(tol=-1.0)),
    "hyperparameters: batch_size 0": (refused(ValueError, "batch_size must be >= 1"), fit_(solver="gd",
                                                                                        batch_size=0)),
    "hyperparameters: seed -1": (refused(ValueError, "seed"), fit_(seed=-1)),
    "hyperparameters: seed 2**32": (refused(ValueError, "seed"), fit_(seed=2**32)),
    "hyperparameters: progress=42": (refused(TypeError, "progress must be None or a callable"), fit_(progress=42)),
    "hyperparameters: sweep progress=42": (refused(TypeError, "progress must be None or a callable"),
                                           sweep_(l2=[0.1, 1.0], progress=42)),
    "hyperparameters: fit_many progress=42": (refused(TypeError, "progress must be None or a callable"),
                                              lambda: jaxlr.fit_many(X, Y, l2=[0.1, 1.0], progress="bar")),
    "hyperparameters: max_time 0": (refused(ValueError, "max_time must be > 0"), fit_(max_time=0)),
    "hyperparameters: chunk_size 0": (refused(ValueError, "chunk_size must be >= 1"), sweep_(l2=[0.1, 1.0],
                                                                                          chunk_size=0)),
    "hyperparameters: memory_budget 0": (refused(ValueError, "memory_budget must be >= 1"), fit_(memory_budget=0)),
    "hyperparameters: an unknown keyword": (refused(TypeError, "unexpected keyword argument 'max_iter'"),
                                            fit_(max_iter=5)),
    "hyperparameters: an unknown solver": (refused(ValueError, "solver must be one of"), fit_(solver="sgd")),
    "hyperparameters: newton with l1": (refused(ValueError, "solver", "L1"), fit_(solver="newton", l1=0.1)),
    "hyperparameters: standardize 'yes'": (refused(TypeError, "standardize must be a bool"), fit_(standardize="yes")),
    "hyperparameters: n_samples 2**70": (refused(ValueError, "n_samples must be <= 1048576"),
                                         sweep_(l2=jaxlr.loguniform(1e-3, 1.0), n_samples=2**70)),
    "hyperparameters: seeds 2**70": (refused(ValueError, "seeds must be <= 1048576"), sweep_(seeds=2**70)),
    "hyperparameters: estimator max_iter 2**70": (refused(ValueError, "max_iter must be <= 2147483647"),
                                                  estimator_(max_iter=2**70)),
    "hyperparameters: estimator C=-1": (refused(ValueError, "C must be > 0"), estimator_(C=-1.0)),
    # ------------------------------------------------------------------ sparse formats
    "sparse: NaN stored": (refused(ValueError, "X contains NaN or inf", "row 3, column 1"),
                           fit_(X=sp.csr_matrix(with_entry(np.nan)))),
    "sparse: complex": (refused(ValueError, "X must be real"), fit_(X=sp.csr_matrix(X + 1j))),
    "sparse: 1-D": (refused(ValueError, "X must be 2-D"), fit_(X=sp.coo_array(X[:, 0]))),
    "sparse: no rows": (refused(ValueError, "X is empty"), fit_(X=sp.csr_matrix((0, 3)), y=np.zeros(0))),
    "sparse: BCOO with a batch dimension": (refused(ValueError, "without batch or dense dimensions"),
                                            fit_(X=jsparse.BCOO.fromdense(X[None], n_batch=1))),
    "sparse: duplicates are summed": (lambda _: same_data(coo_with_duplicates(), X), None),
    "sparse: unsorted indices": (lambda _: same_data(csr_unsorted(), X), None),
    "sparse: integer values": (lambda _: same_data(sp.csr_matrix(np.round(X * 10).astype(int)), np.round(X * 10)),
                               None),
    "sparse: explicit zeros change nothing": (lambda _: explicit_zeros_change_nothing(), None),
    "sparse: standardize is the dense model": (lambda _: sparse_like_dense(sp.csc_matrix(X), l2=0.1,
                                                                           standardize=True), None),
    "sparse: a column of 1e300 is named": (warns(ScaleWarning, "column 1"),
                                           fit_(X=sp.csr_matrix(scaled(1, 1e300)), l2=0.1, steps=5)),
    # ------------------------------------------------------------------ separation
    "separation: unpenalized sweep over separated folds": (lambda _: unpenalized_sweep_on_separated_folds(), None),
    "separation: fit_many": (warns(jaxlr.PerfectSeparationWarning, "fit_many: 2 unpenalized model(s) (index 0, 2)"),
                             lambda: jaxlr.fit_many(SEPARABLE, Y_SEP, l2=[0.0, 1.0, 0.0, 1.0])),
    "separation: inference": (lambda _: inference_on_separated_data(), None),
    "separation: inference of a sweep": (lambda _: inference_on_a_separated_sweep(), None),
    "separation: penalized sweeps do not warn": (lambda _: penalized_separated_sweep_is_quiet(), None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_input(case):
    check, call = CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jaxlr.ConvergenceWarning)  # budgets cut short on purpose (steps=5)
        check(call)
