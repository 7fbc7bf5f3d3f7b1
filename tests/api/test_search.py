"""Random search spaces in sweep: reproducible draws, one stream per hyperparameter, mixed with grids."""

import numpy as np
import pytest

import jaxlr

from conftest import make_problem

OPTIONS = dict(solver="lbfgs", steps=5, tol=None)  # the draws are under test, not the fits


@pytest.fixture(scope="module")
def data():
    return make_problem(m=40, n=3, seed=7)


def l2_values(result):
    return [g["l2"] for g in result.grid]


def test_draws_are_reproducible_and_follow_the_documented_stream(data):
    X, y = data
    a = jaxlr.sweep(X, y, l2=jaxlr.loguniform(1e-6, 1.0), n_samples=16, seed=3, **OPTIONS)
    b = jaxlr.sweep(X, y, l2=jaxlr.loguniform(1e-6, 1.0), n_samples=16, seed=3, **OPTIONS)
    c = jaxlr.sweep(X, y, l2=jaxlr.loguniform(1e-6, 1.0), n_samples=16, seed=4, **OPTIONS)
    assert l2_values(a) == l2_values(b) and l2_values(a) != l2_values(c)
    documented = np.exp(np.random.default_rng([3, 1]).uniform(np.log(1e-6), np.log(1.0), 16))
    np.testing.assert_allclose(l2_values(a), documented, rtol=1e-15)
    assert all(1e-6 <= v <= 1.0 for v in l2_values(a))
    np.testing.assert_array_equal(a.coef, b.coef)


def test_random_values_cross_the_grid_values_of_the_others(data):
    X, y = data
    alone = jaxlr.sweep(X, y, l2=jaxlr.loguniform(1e-4, 1.0), n_samples=3, seed=0, **OPTIONS)
    mixed = jaxlr.sweep(X, y, l2=jaxlr.loguniform(1e-4, 1.0), l1=[0.0, 0.01], n_samples=3, seed=0,
                        folds=2, **{**OPTIONS, "solver": "fista"})
    assert len(mixed) == 3 * 2 * 2
    drawn = l2_values(alone)
    assert [(g["l2"], g["l1"], g["fold"]) for g in mixed.grid] == [
        (v, l1, f) for v in drawn for l1 in (0.0, 0.01) for f in (0, 1)]
    # a second random hyperparameter draws from its own stream: l2's values do not move
    joint = jaxlr.sweep(X, y, l2=jaxlr.loguniform(1e-4, 1.0), l1=jaxlr.uniform(0.0, 0.1), n_samples=3, seed=0,
                        **{**OPTIONS, "solver": "fista"})
    assert l2_values(joint) == drawn
    assert all(0.0 <= g["l1"] <= 0.1 for g in joint.grid) and len({g["l1"] for g in joint.grid}) == 3


def test_choice_draws_only_its_values(data):
    X, y = data
    result = jaxlr.sweep(X, y, learning_rate=jaxlr.choice([0.1, 1.0]), l2=jaxlr.uniform(0.0, 1.0), n_samples=12,
                         seed=1, solver="gd", steps=3, tol=None)
    rates = [g["learning_rate"] for g in result.grid]
    assert set(rates) == {0.1, 1.0}
    assert repr(jaxlr.choice([0.1, 1.0])) == "choice([0.1, 1.0])"
    assert repr(jaxlr.loguniform(1e-6, 1)) == "loguniform(1e-06, 1)"


def test_random_search_with_halving(data):
    X, y = data
    result = jaxlr.sweep(X, y, l2=jaxlr.loguniform(1e-4, 10.0), n_samples=9, seed=2, folds=2, halving=3,
                         solver="lbfgs", tol=1e-10, steps=45)
    finalists = {g["l2"] for g, s in zip(result.grid, result.status_name) if s != "pruned"}
    assert len(finalists) == 1 and finalists <= set(l2_values(result))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(l2=jaxlr.loguniform(1e-3, 1.0)), ValueError, "n_samples must be given with a distribution \\(l2=loguniform"),
    (dict(l2=[0.1, 1.0], n_samples=4), ValueError, "n_samples needs a distribution"),
    (dict(l2=jaxlr.loguniform(1e-3, 1.0), n_samples=0), ValueError, "n_samples must be >= 1"),
    (dict(l2=jaxlr.uniform(-1.0, 1.0), n_samples=4), ValueError, "l2 must be >= 0, but uniform\\(-1, 1\\) can draw values < 0"),
    (dict(learning_rate=jaxlr.uniform(0.0, 1.0), n_samples=4), ValueError, "learning_rate must be > 0, but uniform.* <= 0"),
    (dict(l1=jaxlr.choice([0.0, -1.0]), n_samples=4), ValueError, "l1 must be >= 0, but choice"),
    (dict(l2=jaxlr.loguniform(1e-3, 1.0), n_samples=4, seed=-1), ValueError, "seed"),
])
def test_bad_search_input(data, kwargs, error, match):
    X, y = data
    with pytest.raises(error, match=match):
        jaxlr.sweep(X, y, **{**OPTIONS, **kwargs})


@pytest.mark.parametrize("make, match", [
    (lambda: jaxlr.loguniform(0.0, 1.0), "low must be > 0"),
    (lambda: jaxlr.loguniform(1.0, 1e-3), "low must be < high"),
    (lambda: jaxlr.uniform(1.0, 1.0), "low must be < high"),
    (lambda: jaxlr.uniform(0.0, float("inf")), "finite"),
    (lambda: jaxlr.choice([]), "empty"),
])
def test_bad_distributions(make, match):
    with pytest.raises(ValueError, match=match):
        make()
