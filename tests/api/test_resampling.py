"""Resampling as lanes: ``bootstrap``, ``permutation_test`` and ``stability_selection`` against
loops of ``jaxlr.fit`` on the same weights, scikit-learn and scipy, and bad input at the door."""

import warnings

import numpy as np
import pytest
import scipy.sparse
import scipy.stats

import jaxlr
from jaxlr._api.bootstrap import _bca
from jaxlr._core.resample import JACKKNIFE

OPTS = dict(solver="newton", tol=1e-12, steps=100)


def _data(m=160, n=3, seed=0, coef=(1.0, -1.0, 0.5, 0.0, 0.0, 0.0)):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n))
    y = (X @ np.asarray(coef[:n]) + 0.3 + rng.logistic(size=m) > 0).astype(int)
    return X, y


def _loop(X, y, weights, **options):
    fits = [jaxlr.fit(X, y, sample_weight=w, **options) for w in weights]
    return np.array([f.coef for f in fits]), np.array([f.intercept for f in fits])


@pytest.mark.parametrize("stratify", [False, True])
def test_bootstrap_percentile_equals_a_loop_of_fits_on_the_same_weights(stratify):
    X, y = _data()
    r = jaxlr.bootstrap(X, y, n_resamples=12, seed=7, stratify=stratify, l2=1e-3, **OPTS)
    W = r.weights(np.arange(12))
    assert W.shape == (12, len(y))
    assert np.all(W == np.round(W)) and np.all(W.sum(axis=1) == len(y))  # multinomial counts of n draws
    if stratify:  # every resample keeps the class counts
        assert np.all(W[:, y == 1].sum(axis=1) == (y == 1).sum())
    coef, intercept = _loop(X, y, W, l2=1e-3, **OPTS)
    np.testing.assert_allclose(r.coef, coef, rtol=0, atol=1e-10)
    np.testing.assert_allclose(r.intercept, intercept, rtol=0, atol=1e-10)
    flat = np.concatenate([coef, intercept[:, None]], axis=1)
    np.testing.assert_allclose(r.low, np.percentile(flat, 2.5, axis=0), rtol=0, atol=1e-10)
    np.testing.assert_allclose(r.high, np.percentile(flat, 97.5, axis=0), rtol=0, atol=1e-10)
    full = jaxlr.fit(X, y, l2=1e-3, **OPTS)
    np.testing.assert_allclose(r.estimate, np.append(full.coef, full.intercept), rtol=0, atol=1e-10)
    assert r.used.all() and len(r.names) == 4 and "intercept" in r.table()


def test_bootstrap_of_a_held_out_score_equals_the_loop():
    X, y = _data(m=200)
    Xt, yt = X[150:], y[150:]
    r = jaxlr.bootstrap(X[:150], y[:150], n_resamples=10, seed=1, held_out=(Xt, yt), scoring="neg_log_loss", **OPTS)
    coef, intercept = _loop(X[:150], y[:150], r.weights(np.arange(10)), **OPTS)
    z = Xt @ coef.T + intercept
    expected = -np.mean(np.logaddexp(0, z) - yt[:, None] * z, axis=0)
    np.testing.assert_allclose(r.scores, expected, atol=1e-10)
    assert r.names[-1] == "score (neg_log_loss)"
    assert r.low[-1] == pytest.approx(np.percentile(expected, 2.5), abs=1e-10)


def test_bootstrap_basic_and_bca_follow_scipy():
    X, y = _data()
    b = jaxlr.bootstrap(X, y, n_resamples=30, seed=1, method="basic", confidence_level=0.9, **OPTS)
    p = jaxlr.bootstrap(X, y, n_resamples=30, seed=1, method="percentile", confidence_level=0.9, **OPTS)
    np.testing.assert_allclose(b.low, 2 * p.estimate - p.high, atol=1e-12)
    np.testing.assert_allclose(b.high, 2 * p.estimate - p.low, atol=1e-12)
    r = jaxlr.bootstrap(X, y, n_resamples=30, seed=1, method="bca", **OPTS)
    np.testing.assert_allclose(r.distribution, p.distribution, atol=1e-12)  # same seed, same resamples
    for i in (0, 57):  # the jackknife lanes are the leave-one-out fits
        w = np.ones(len(y))
        w[i] = 0.0
        f = jaxlr.fit(X, y, sample_weight=w, **OPTS)
        np.testing.assert_allclose(r.jackknife[i], np.append(f.coef, f.intercept), atol=1e-10)
    # the BCa formula is scipy's: on a statistic scipy can resample itself, from its own distribution
    x = np.random.default_rng(3).exponential(size=40)
    res = scipy.stats.bootstrap((x,), np.mean, method="BCa", n_resamples=999, random_state=0)
    theta = res.bootstrap_distribution[:, None]
    jack = np.array([np.delete(x, i).mean() for i in range(len(x))])[:, None]
    _, _, (q_low, q_high) = _bca(theta, np.array([x.mean()]), jack, 0.025)
    assert np.percentile(theta[:, 0], 100 * q_low[0]) == pytest.approx(res.confidence_interval.low, abs=1e-12)
    assert np.percentile(theta[:, 0], 100 * q_high[0]) == pytest.approx(res.confidence_interval.high, abs=1e-12)


def test_bootstrap_standard_errors_agree_with_wald_within_monte_carlo_error():
    """On 4,000 rows and 2 features the MLE is well determined, so the bootstrap and Wald standard
    errors estimate the same quantity; with B = 400 resamples the bootstrap SE's own relative
    error is about 1 / sqrt(2 (B - 1)) = 3.5%. The test allows four of those (14%)."""
    X, y = _data(m=4000, n=2, seed=5)
    r = jaxlr.bootstrap(X, y, n_resamples=400, seed=2, **OPTS)
    wald = jaxlr.inference(jaxlr.fit(X, y, **OPTS), X, y)
    ratio = r.standard_error / np.asarray(wald.std_err)
    assert np.all(np.abs(ratio - 1) < 4 / np.sqrt(2 * 399)), ratio


def test_bootstrap_reports_unfinished_resamples_and_leaves_them_out():
    X, y = _data(m=60, seed=2)
    full = jaxlr.bootstrap(X, y, n_resamples=40, seed=0, **OPTS)
    steps = int(np.median(full.n_iter))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        cut = jaxlr.bootstrap(X, y, n_resamples=40, seed=0, **{**OPTS, "steps": steps})
    messages = [str(w.message) for w in seen if issubclass(w.category, jaxlr.ConvergenceWarning)]
    assert any("resamples did not finish" in m for m in messages)
    used = cut.status == jaxlr.Status.CONVERGED
    assert 0 < used.sum() < 40 and np.array_equal(cut.used, used)
    flat = cut.distribution[used]
    np.testing.assert_allclose(cut.low, np.percentile(flat, 2.5, axis=0), atol=1e-12)
    assert np.isfinite(cut.low).all() and np.isfinite(cut.high).all()


def test_bootstrap_multiclass_and_sample_weights():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 2))
    y = np.argmax(X @ rng.normal(size=(2, 3)) + rng.gumbel(size=(150, 3)), axis=1)
    sw = rng.uniform(0.5, 2.0, size=150)
    r = jaxlr.bootstrap(X, y, n_resamples=4, seed=3, sample_weight=sw, l2=1e-2, **OPTS)
    W = r.weights([0, 1, 2, 3])
    counts = W / sw  # each drawn row keeps its weight
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-12)
    coef, intercept = _loop(X, y, W, l2=1e-2, **OPTS)
    np.testing.assert_allclose(r.coef, coef, atol=1e-10)
    centred = intercept - intercept.mean(axis=1, keepdims=True)  # softmax intercepts: up to a constant
    np.testing.assert_allclose(r.intercept, centred, atol=1e-10)
    assert r.low.shape == (9,) and r.names[-1] == "intercept[2]"


def test_a_resample_without_a_class_is_reported_and_left_out():
    X, y = _data(m=60, seed=4)
    y = np.zeros(60, int)
    y[:3] = 1  # a class of 3 rows vanishes from about exp(-3) = 5% of resamples
    X[:3] += 1.0
    with pytest.warns(UserWarning, match="lack a class"):
        r = jaxlr.bootstrap(X, y, n_resamples=60, seed=0, l2=0.1, **OPTS)
    W = r.weights(np.arange(60))
    lacking = W[:, :3].sum(axis=1) == 0
    assert lacking.any() and np.array_equal(r.missing_class, lacking)
    assert not (r.used & lacking).any()
    s = jaxlr.bootstrap(X, y, n_resamples=60, seed=0, l2=0.1, stratify=True, **OPTS)
    assert not s.missing_class.any() and s.used.all()


def test_a_subsample_without_a_class_is_left_out_of_the_probabilities():
    X, y = _data(m=100, n=3, seed=6)
    y = np.zeros(100, int)
    y[:5] = 1  # a class of 5 rows: a 10% subsample misses it with chance 0.9^5 = 59%
    X[:5] += 2.0
    with pytest.warns(UserWarning, match="lack a class"):
        r = jaxlr.stability_selection(X, y, l1=[0.01], n_subsamples=12, fraction=0.1, seed=0)
    masks = np.array([r.weights(s) for s in range(12)])
    kept = masks[:, :5].sum(axis=1) > 0
    assert 0 < kept.sum() < 12
    selected = (r.coef[kept, 0] != 0).sum(axis=0) / kept.sum()
    np.testing.assert_allclose(r.probability[0], selected)


def _balanced(m=100, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, 4))
    y = np.zeros(m, int)
    y[np.argsort(X @ [0.6, -0.5, 0.0, 0.0] + rng.logistic(size=m))[m // 2:]] = 1
    return X, y


@pytest.mark.parametrize("shuffled", [False, True])
def test_permutation_test_equals_scikit_learn(shuffled):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, permutation_test_score

    X, y = _balanced()  # 50/50: every training fold has 80 rows, so C = 1 is l2 = 1/80 in each
    cv = StratifiedKFold(5, shuffle=True, random_state=4) if shuffled else 5
    r = jaxlr.permutation_test(X, y, n_permutations=25, cv=cv, seed=3, l2=1 / 80, tol=1e-10)
    score, perm, pvalue = permutation_test_score(LogisticRegression(C=1.0, tol=1e-10), X, y, cv=cv,
                                                 n_permutations=25, random_state=3)
    assert r.score == pytest.approx(score, abs=1e-12)
    np.testing.assert_allclose(r.permutation_scores, perm, atol=1e-12)
    assert r.pvalue == pytest.approx(pvalue, abs=1e-15)
    assert r.pvalue == (np.sum(r.permutation_scores >= r.score) + 1) / 26
    s, p, pv = r
    assert (s, pv) == (r.score, r.pvalue) and r.fold_scores.shape == (26, 5)


def test_the_estimator_form_in_scikit_learns_permutation_test_agrees():
    from sklearn.model_selection import permutation_test_score

    X, y = _balanced()
    score, perm, pvalue = permutation_test_score(jaxlr.LogisticRegression(C=1.0, tol=1e-10), X, y,
                                                 n_permutations=5, random_state=3)
    r = jaxlr.permutation_test(X, y, n_permutations=5, seed=3, l2=1 / 80, tol=1e-10)
    assert (r.score, r.pvalue) == pytest.approx((score, pvalue), abs=1e-12)
    np.testing.assert_allclose(r.permutation_scores, perm, atol=1e-12)


def test_permutation_test_fold_lanes_are_fits_on_permuted_labels():
    from jaxlr._api.permutation import stratified_folds

    X, y = _balanced(m=60)
    r = jaxlr.permutation_test(X, y, n_permutations=2, cv=3, seed=0, l2=1e-2, scoring="neg_log_loss", **OPTS)
    y1 = y[np.random.RandomState(0).permutation(60)]
    train, test = stratified_folds(y1, 3)[1]
    f = jaxlr.fit(X[train], y1[train], l2=1e-2, **OPTS)
    z = X[test] @ f.coef + f.intercept
    loss = np.mean(np.logaddexp(0, z) - y1[test] * z)
    assert r.fold_scores[1, 1] == pytest.approx(-loss, abs=1e-10)


@pytest.mark.parametrize("sparse", [False, True])
def test_stability_selection_equals_a_loop_of_l1_fits(sparse):
    X, y = _data(m=120, n=6, seed=1, coef=(2.0, -2.0, 1.0, 0.0, 0.0, 0.0))
    Xs = scipy.sparse.csr_matrix(X) if sparse else X
    l1 = [0.1, 0.03]
    r = jaxlr.stability_selection(Xs, y, l1=l1, n_subsamples=4, seed=2, complementary_pairs=True)
    assert r.probability.shape == (2, 6) and r.status.shape == (8, 2)
    masks = np.array([r.weights(s) for s in range(8)])
    assert np.all(masks.sum(axis=1) == 60)
    for k in range(4):  # complementary pairs are disjoint halves
        assert np.all(masks[2 * k] * masks[2 * k + 1] == 0)
    selected = np.zeros((2, 6))
    for s in range(8):
        for j, a in enumerate(l1):
            f = jaxlr.fit(Xs, y, sample_weight=masks[s], l1=a)
            np.testing.assert_allclose(r.coef[s, j], f.coef, atol=1e-10)
            selected[j] += f.coef != 0
    np.testing.assert_array_equal(r.probability, selected / 8)
    assert r.probability[:, 0].min() == 1.0 and "x0" in r.selected(0.9)


@pytest.mark.parametrize("call, argument", [
    (lambda X, y: jaxlr.bootstrap(X, y, n_resamples=0), "n_resamples"),
    (lambda X, y: jaxlr.bootstrap(X, y, n_resamples=10.0), "n_resamples"),
    (lambda X, y: jaxlr.bootstrap(X, y, n_resamples=True), "n_resamples"),
    (lambda X, y: jaxlr.bootstrap(X, y, confidence_level=1.0), "confidence_level"),
    (lambda X, y: jaxlr.bootstrap(X, y, confidence_level=0), "confidence_level"),
    (lambda X, y: jaxlr.bootstrap(X, y, method="bootstrap-t"), "method"),
    (lambda X, y: jaxlr.bootstrap(X, y, seed=-1), "seed"),
    (lambda X, y: jaxlr.bootstrap(X, y, stratify="yes"), "stratify"),
    (lambda X, y: jaxlr.bootstrap(X, y, held_out=(X[:, :2], y)), "held_out"),
    (lambda X, y: jaxlr.bootstrap(X, y, held_out=(X, y + 5)), "held_out"),
    (lambda X, y: jaxlr.bootstrap(X, y, held_out=(X, y), scoring="f1"), "scoring"),
    (lambda X, y: jaxlr.permutation_test(X, y, n_permutations=0), "n_permutations"),
    (lambda X, y: jaxlr.permutation_test(X, y, n_permutations=2.5), "n_permutations"),
    (lambda X, y: jaxlr.permutation_test(X, y, scoring="f1"), "scoring"),
    (lambda X, y: jaxlr.permutation_test(X, y, cv=1), "cv"),
    (lambda X, y: jaxlr.stability_selection(X, y, l1=[0.1], fraction=1.0), "fraction"),
    (lambda X, y: jaxlr.stability_selection(X, y, l1=[0.1], fraction=0), "fraction"),
    (lambda X, y: jaxlr.stability_selection(X, y, l1=[0.1], fraction=0.7, complementary_pairs=True), "fraction"),
    (lambda X, y: jaxlr.stability_selection(X, y, l1=[-0.1]), "l1"),
    (lambda X, y: jaxlr.stability_selection(X, y, l1=[0.1], n_subsamples=-3), "n_subsamples"),
])
def test_bad_input_names_the_argument_before_compiling(call, argument):
    from conftest import traces

    X, y = _data(m=40)
    before = traces()
    with pytest.raises((ValueError, TypeError), match=argument):
        call(X, y)
    assert traces() == before


def test_unknown_option_is_a_type_error():
    X, y = _data(m=40)
    with pytest.raises(TypeError, match="bootstrap.*colour"):
        jaxlr.bootstrap(X, y, n_resamples=2, colour="red")
    assert JACKKNIFE == 2


def test_float32_without_x64_runs_in_float32():
    """JAX's default (x64 off): the in-program draws need no 64-bit constants, dtype follows X."""
    import subprocess
    import sys
    from pathlib import Path

    code = """
import numpy as np, jaxlr
rng = np.random.default_rng(0)
X = rng.normal(size=(80, 3)).astype(np.float32); y = (X[:, 0] + rng.logistic(size=80) > 0).astype(int)
b = jaxlr.bootstrap(X, y, n_resamples=4, stratify=True, method="bca")
s = jaxlr.stability_selection(X, y, l1=[0.05], n_subsamples=2, complementary_pairs=True)
p = jaxlr.permutation_test(X, y, n_permutations=2, cv=3)
assert b.coef.dtype == np.float32 and s.coef.dtype == np.float32, (b.coef.dtype, s.coef.dtype)
assert np.isfinite(b.low).all() and 0 < p.pvalue <= 1
print("ok")
"""
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=300,
                         env={**__import__("os").environ, "PYTHONPATH": str(root), "JAXLR_CACHE_DIR": ""})
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_no_resamples_by_rows_weight_matrix_on_the_host():
    """The counts are drawn in the program: the host's peak allocation (NumPy reports to
    tracemalloc) stays far below one (n_resamples, n_samples) float64 matrix."""
    import tracemalloc

    rng = np.random.default_rng(0)
    m, B = 40000, 128
    X = rng.normal(size=(m, 2))
    y = (X[:, 0] + rng.logistic(size=m) > 0).astype(int)
    jaxlr.bootstrap(X, y, n_resamples=B, solver="newton", steps=50)  # compiled before measuring
    tracemalloc.start()
    try:
        r = jaxlr.bootstrap(X, y, n_resamples=B, solver="newton", steps=50)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert r.used.all()
    assert peak < B * m * 8 / 4, peak


def test_all_resamples_are_lanes_of_one_program():
    """The fit on all rows, the resamples and the jackknife: one training program, and a second
    call (other seeds, another count in the same lane bucket) compiles nothing."""
    from conftest import traces

    X, y = _data(m=77, n=7, seed=9, coef=(1.0, -1.0, 0.5, 0.2, 0.0, 0.0, 0.0))
    before = traces()
    jaxlr.bootstrap(X, y, n_resamples=40, method="bca", seed=1, l2=1e-2)
    assert traces() - before <= 1
    before = traces()
    jaxlr.bootstrap(X, y, n_resamples=41, method="bca", seed=2, l2=1e-1)
    assert traces() == before
