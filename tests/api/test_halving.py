"""Successive halving inside a cross-validated sweep: finalists, pruned models, rungs, counters."""

import collections

import numpy as np
import pytest

import jaxlr
from jaxlr._api import halving as _halving
from jaxlr._train import scoring

from conftest import make_problem

L2 = list(np.geomspace(1e-4, 1e2, 9))


def mean_validation_loss(result, finalists_only=False):
    by_setting = collections.defaultdict(list)
    for row in result.rows():
        if not finalists_only or row["status"] != "pruned":
            by_setting[row["l2"]].append(row["validation_loss"])
    return {k: float(np.mean(v)) for k, v in by_setting.items()}


@pytest.fixture(scope="module")
def clear_case():
    """Few rows, many features: overfitting makes small l2 clearly bad, large l2 underfits."""
    X, y = make_problem(m=120, n=12, seed=5)
    options = dict(folds=3, solver="lbfgs", tol=1e-10, steps=90)
    full = jaxlr.sweep(X, y, l2=L2, **options)
    half = jaxlr.sweep(X, y, l2=L2, halving=3, **options)
    return full, half, full.config["lane_steps"], half.config["lane_steps"]


def test_halving_finds_the_full_grids_best_with_less_work(clear_case):
    full, half, full_work, half_work = clear_case
    full_means = mean_validation_loss(full)
    best = min(full_means, key=full_means.get)
    ranked = sorted(full_means.values())
    assert ranked[1] - ranked[0] > 1e-3  # the best is clear
    finalists = mean_validation_loss(half, finalists_only=True)
    assert list(finalists) == [best]
    k_full = [k for k, g in enumerate(full.grid) if g["l2"] == best]
    k_half = [k for k, g in enumerate(half.grid) if g["l2"] == best]
    assert half.converged[k_half].all()
    np.testing.assert_allclose(half.coef[k_half], full.coef[k_full], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(half.validation_loss[k_half], full.validation_loss[k_full], rtol=1e-9)
    # the sweep's own counters: model-iterations and lane-steps computed
    assert half.n_iter.sum() < full.n_iter.sum()
    assert half_work < full_work


def test_pruned_models_and_rungs(clear_case):
    _, half, _, _ = clear_case
    assert half.config["halving"] == 3 and half.config["rungs"] == (10, 30)  # 90 / 3^2, then x3
    status = np.asarray(half.status_name)
    rung = np.asarray(half.rung)
    assert (status == "pruned").sum() == 24 and set(status[status != "pruned"]) == {"converged"}
    assert sorted(collections.Counter(rung.tolist()).items()) == [(0, 18), (1, 6), (2, 3)]
    for k, row in enumerate(half.rows()):
        assert row["rung"] == rung[k] and np.isfinite(row["validation_loss"])
        # a model pruned at rung r ran at most that rung's budget
        if row["status"] == "pruned":
            assert row["n_iter"] <= half.config["rungs"][row["rung"]]
    assert "validation_loss" in half.table().splitlines()[0] and "rung" in half.table().splitlines()[0]


def test_loss_history_spans_the_rungs(clear_case):
    _, half, _, _ = clear_case
    history = np.asarray(half.loss_history)
    assert history.shape == (len(half), 90)
    np.testing.assert_allclose(history[:, 0], np.log(2), rtol=1e-12)  # every model starts at zero
    assert (np.diff(history, axis=1) <= 1e-12).all()  # L-BFGS never raises the objective
    np.testing.assert_allclose(history[:, -1], half.objective, rtol=1e-12)


def test_validation_loss_is_the_held_out_log_loss():
    X, y = make_problem(m=60, n=3, seed=1)
    result = jaxlr.sweep(X, y, l2=[0.01, 1.0], folds=3, solver="lbfgs", steps=50)
    for k, g in enumerate(result.grid):
        held_out = 1.0 - np.asarray(result.fold_weights)[g["fold"]]
        z = X @ np.asarray(result.coef[k]) + float(result.intercept[k])
        expected = float(jaxlr.metrics.log_loss(z, y, held_out))
        assert result.rows()[k]["validation_loss"] == pytest.approx(expected, rel=1e-12)


def test_validation_loss_of_index_folds_uses_their_test_rows():
    X, y = make_problem(m=60, n=3, seed=1)
    folds = [(np.arange(0, 40), np.arange(40, 50)), (np.arange(20, 60), np.arange(0, 10))]
    result = jaxlr.sweep(X, y, l2=0.1, folds=folds, solver="lbfgs", steps=50)
    for k, (_, test) in enumerate(folds):
        z = X[test] @ np.asarray(result.coef[k]) + float(result.intercept[k])
        assert float(result.validation_loss[k]) == pytest.approx(float(jaxlr.metrics.log_loss(z, y[test])), rel=1e-12)


def test_schedule():
    assert _halving.schedule(27, 3, 1000, None) == [37, 111, 333]
    assert _halving.schedule(27, 3, 1000, 8) == [8, 24, 72]
    assert _halving.schedule(10, 2, 100, 30) == [30, 60]  # 120 would reach the budget
    assert _halving.schedule(1, 3, 100, None) == []


def test_halving_resumes_from_a_checkpoint():
    X, y = make_problem(m=60, n=3, seed=2)

    class Memory:
        def __init__(self, chunks):
            self.chunks, self.loaded = chunks, 0

        def load(self, chunk):
            if chunk in self.chunks:
                self.loaded += 1
                return self.chunks[chunk]
            return None

        def save(self, chunk, result):
            self.chunks[chunk] = result

    options = dict(l2=[1e-3, 1e-2, 1e-1, 1.0], folds=2, halving=2, solver="lbfgs", tol=1e-10, steps=24, chunk_size=4)
    first = Memory({})
    a = jaxlr.sweep(X, y, checkpoint=first, **options)
    assert len(first.chunks) >= 3 and min(first.chunks) == 0 and max(first.chunks) >= 100_000  # rungs apart
    again = Memory(dict(first.chunks))
    b = jaxlr.sweep(X, y, checkpoint=again, **options)
    assert again.loaded == len(first.chunks)
    np.testing.assert_array_equal(a.status, b.status)
    np.testing.assert_array_equal(a.coef, b.coef)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(halving=1, folds=3), ValueError, "halving must be >= 2"),
    (dict(halving=2.5, folds=3), TypeError, "halving must be an integer"),
    (dict(halving=3), ValueError, "halving needs folds"),
    (dict(rung_steps=5, folds=3), ValueError, "rung_steps needs halving"),
    (dict(halving=3, rung_steps=0, folds=3), ValueError, "rung_steps must be >= 1"),
    (dict(halving=3, folds=3, path=True), ValueError, "halving and path=True exclude each other"),
])
def test_bad_halving_input(kwargs, error, match):
    X, y = make_problem(m=30, n=2)
    with pytest.raises(error, match=match):
        jaxlr.sweep(X, y, l2=[0.1, 1.0], **kwargs)


def test_a_warm_start_at_the_optimum_has_not_diverged():
    """Rungs warm-start survivors from their parameters; one already at its optimum, asked for a
    tolerance below rounding, ends within an ulp of where it began: not a divergence."""
    X, y = make_problem(m=40, n=3, seed=7)
    optimum = jaxlr.fit(X, y, l2=6.745, solver="lbfgs", tol=1e-13, steps=200)
    with pytest.warns(jaxlr.ConvergenceWarning, match="stopped at the budget"):
        again = jaxlr.fit(X, y, l2=6.745, solver="lbfgs", tol=0.0, steps=30, init=optimum)
    assert again.status_name == "max_iter"
    assert abs(float(again.objective) - float(optimum.objective)) <= 1e-15


def test_validation_loss_in_chunks_equals_one_pass(monkeypatch):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((50, 3))
    for coef, intercept, y in ((rng.standard_normal((7, 3)), rng.standard_normal(7), (X[:, 0] > 0).astype(float)),
                               (rng.standard_normal((7, 3, 4)), rng.standard_normal((7, 4)), rng.integers(0, 4, 50))):
        w = rng.uniform(0, 1, (7, 50))
        whole = scoring.lane_scores(X, y, coef, intercept, w)[:, 0]
        monkeypatch.setattr(scoring, "BLOCK", 120)  # 2 binary / 1 multinomial model per block
        np.testing.assert_allclose(scoring.lane_scores(X, y, coef, intercept, w)[:, 0], whole, rtol=1e-14)
        monkeypatch.undo()
        z = np.einsum("mn,kn...->km...", X, coef) + intercept[:, None]
        expected = [float(jaxlr.metrics.log_loss(z[k], y, w[k])) for k in range(7)]
        np.testing.assert_allclose(whole, expected, rtol=1e-12)
