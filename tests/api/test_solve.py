"""solve: the minimiser as a pure function, differentiated implicitly (checked against central
finite differences of the forward solve, which never uses the derivative rule)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlr
from jaxlr._api import solve as _solve
from jaxlr._core import active_set

from conftest import make_problem


def compiled(f):
    """``jax.jit(f)`` at XLA:CPU's lowest optimization level (the engine's option for small
    programs): the derivative programs here are small, and compile 2-3x faster so."""
    from jaxlr._core.programs import SMALL_CPU_OPTIONS

    return jax.jit(f, compiler_options=SMALL_CPU_OPTIONS if jax.default_backend() == "cpu" else None)


def central_difference(f, x, direction, h):
    return (float(f(x + h * direction)) - float(f(x - h * direction))) / (2 * h)


def directional(grad, direction):
    return float(np.sum(np.asarray(grad) * direction))


@pytest.fixture(scope="module")
def split(cancer):
    X, y = cancer
    idx = np.random.default_rng(0).permutation(len(y))
    train, val = idx[:400], idx[400:]
    return X[train], y[train].astype(float), jnp.asarray(X[val]), jnp.asarray(y[val].astype(float))


@pytest.fixture(scope="module")
def small():
    """A binary and a 3-class problem with held-out rows and random weights."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((90, 4))
    w = rng.standard_normal(4)
    yb = (X @ w + rng.standard_normal(90) > 0).astype(float)
    ym = np.argmax(X[:, :3] + rng.standard_normal((90, 3)), axis=1)
    Xv = rng.standard_normal((40, 4))
    return dict(X=X, yb=yb, ym=ym, s=rng.uniform(0.5, 1.5, 90), Xv=jnp.asarray(Xv),
                yvb=jnp.asarray((Xv @ w > 0).astype(float)), yvm=jnp.asarray(np.argmax(Xv[:, :3], axis=1)))


def test_forward_equals_fit(split):
    X, y, _, _ = split
    params, info = jaxlr.solve(X, y, l2=0.01, return_info=True)
    fitted = jaxlr.fit(X, y, l2=0.01, tol=1e-12)
    np.testing.assert_allclose(params.coef, fitted.coef, rtol=0, atol=1e-9)
    np.testing.assert_allclose(params.intercept, fitted.intercept, rtol=0, atol=1e-9)
    assert int(info.status) == jaxlr.Status.CONVERGED and float(info.residual) <= 1e-10
    assert params.coef.dtype == np.float64


def test_hypergradient_matches_central_differences_on_breast_cancer(split):
    """The issue's target: d validation loss / d l2 to 1e-4 relative at several l2, and vmap."""
    X, y, Xv, yv = split

    def validation_loss(l2):
        p = jaxlr.solve(X, y, l2=l2)
        return jaxlr.binary_cross_entropy(Xv @ p.coef + p.intercept, yv)

    hypergradient = compiled(jax.grad(validation_loss))
    l2s = np.array([1e-3, 1e-2, 1e-1])
    for l2 in l2s:
        exact = float(hypergradient(l2))
        numeric = central_difference(validation_loss, l2, 1.0, 1e-4 * l2)
        assert abs(exact - numeric) <= 1e-4 * abs(numeric), (l2, exact, numeric)
    batched = compiled(jax.vmap(jax.grad(validation_loss)))(jnp.asarray(l2s))
    np.testing.assert_allclose(batched, [hypergradient(v) for v in l2s], rtol=1e-10)


def test_gradients_in_weights_features_and_soft_labels(small):
    X, y, s, Xv, yv = small["X"], small["yb"], small["s"], small["Xv"], small["yvb"]
    rng = np.random.default_rng(2)

    def loss(X, y, s):
        p = jaxlr.solve(X, y, l2=0.05, sample_weight=s)
        return jaxlr.binary_cross_entropy(Xv @ p.coef + p.intercept, yv)

    soft = 0.8 * y + 0.1
    grads = compiled(jax.grad(loss, argnums=(0, 1, 2)))(X, soft, s)
    for k, (name, x) in enumerate((("X", X), ("y", soft), ("sample_weight", s))):
        d = rng.standard_normal(x.shape)
        args = [X, soft, s]

        def along(v, k=k):
            a = list(args)
            a[k] = v
            return loss(*a)

        numeric = central_difference(along, x, d, 1e-5)
        assert abs(directional(grads[k], d) - numeric) <= 1e-6 * abs(numeric), name


def test_multinomial_gradients(small):
    X, y, Xv, yv = small["X"], small["ym"], small["Xv"], small["yvm"]

    def loss(X, l2):
        p = jaxlr.solve(X, y, l2=l2)
        return jaxlr.losses.softmax_cross_entropy(Xv @ p.coef + p.intercept, yv)

    p = jaxlr.solve(X, y, l2=0.05)
    assert p.coef.shape == (4, 3) and p.intercept.shape == (3,)
    np.testing.assert_allclose(np.sum(p.intercept), 0, atol=1e-12)  # the representative solve returns
    fitted = jaxlr.fit(X, y, l2=0.05, tol=1e-12)
    np.testing.assert_allclose(jaxlr.predict_proba(p, X), jaxlr.predict_proba(fitted, X), atol=1e-9)
    gX, gl2 = compiled(jax.grad(loss, argnums=(0, 1)))(X, 0.05)
    assert abs(float(gl2) - central_difference(lambda v: loss(X, v), 0.05, 1.0, 1e-6)) <= 1e-6 * abs(float(gl2))
    d = np.random.default_rng(3).standard_normal(X.shape)
    numeric = central_difference(lambda v: loss(v, 0.05), X, d, 1e-5)
    assert abs(directional(gX, d) - numeric) <= 1e-6 * abs(numeric)


def test_l1_differentiates_on_the_active_set():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((150, 8))
    w = rng.standard_normal(8) * (np.arange(8) % 2)
    y = (X @ w + rng.standard_normal(150) > 0).astype(float)
    params, info = jaxlr.solve(X, y, l2=0.01, l1=0.05, return_info=True)
    zero = np.asarray(params.coef) == 0
    assert zero.any() and (~zero).any() and int(info.status) == jaxlr.Status.CONVERGED
    assert float(info.residual) <= 1e-10  # proximal steps alone stall near 1e-9: the Newton polish

    def coef(l1):
        return jaxlr.solve(X, y, l2=0.01, l1=l1).coef

    jac = np.asarray(compiled(jax.jacrev(coef))(0.05))
    numeric = (np.asarray(coef(0.05 + 1e-6)) - np.asarray(coef(0.05 - 1e-6))) / 2e-6
    np.testing.assert_array_equal(jac[zero], 0.0)
    np.testing.assert_allclose(jac, numeric, rtol=1e-5, atol=1e-8)
    forward = compiled(jax.jacfwd(coef))(0.05)  # forward mode through the same rule
    np.testing.assert_allclose(forward, jac, rtol=1e-10, atol=1e-12)


def test_jit_and_vmap_agree_with_eager_calls(small):
    X, y = small["X"], small["yb"]
    l2s = jnp.asarray([0.01, 0.1, 1.0])
    batched = compiled(jax.vmap(lambda l2: jaxlr.solve(X, y, l2=l2)))(l2s)
    jitted = compiled(lambda X, y, l2: jaxlr.solve(X, y, l2=l2))  # X and y traced too
    for k, l2 in enumerate(l2s):
        one = jaxlr.solve(X, y, l2=float(l2))
        np.testing.assert_allclose(batched.coef[k], one.coef, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(jitted(X, y, l2).coef, one.coef, rtol=1e-10, atol=1e-12)


def test_matrix_free_path_gives_the_dense_derivative(small, monkeypatch):
    X, y, s, Xv, yv = small["X"], small["yb"], small["s"], small["Xv"], small["yvb"]

    def hypergradient():
        def loss(l2, s):
            p = jaxlr.solve(X, y, l2=l2, sample_weight=s, solver="lbfgs")
            return jaxlr.binary_cross_entropy(Xv @ p.coef + p.intercept, yv)
        return compiled(jax.grad(loss, argnums=(0, 1)))(0.05, s)

    dense = hypergradient()
    monkeypatch.setattr(active_set, "DENSE_MAX_PARAMS", 2)  # conjugate gradients on Hessian-vector products
    cg = hypergradient()
    for a, b in zip(dense, cg):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-12)


def test_without_convergence_the_status_says_so():
    X, y = make_problem(m=60, n=4)
    params, info = jaxlr.solve(X, y, l2=1e-3, solver="lbfgs", steps=2, return_info=True)
    assert int(info.status) == jaxlr.Status.MAX_ITER and int(info.n_iter) == 2
    assert float(info.residual) > 1e-10 and np.isfinite(np.asarray(params.coef)).all()


def test_float32_follows_the_input():
    X, y = make_problem(m=60, n=4, dtype=np.float32)
    params, info = jaxlr.solve(X, y, l2=0.1, return_info=True)
    assert params.coef.dtype == np.float32 and int(info.status) == jaxlr.Status.CONVERGED


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(l2=-1.0), ValueError, "l2"),
    (dict(l2=[0.1, 0.2]), ValueError, "l2 must be a scalar"),
    (dict(l1=float("nan")), ValueError, "l1"),
    (dict(solver="gd"), ValueError, "solver"),
    (dict(solver="newton", l1=0.1), ValueError, "ignores l1"),
    (dict(sample_weight=np.ones(3)), ValueError, "sample_weight"),
    (dict(sample_weight=-np.ones(60)), ValueError, "sample_weight"),
    (dict(tol=-1.0), ValueError, "tol"),
    (dict(steps=-1), ValueError, "steps"),
    (dict(fit_intercept=1), TypeError, "fit_intercept"),
    (dict(n_classes=1), ValueError, "n_classes"),
])
def test_bad_input_names_the_argument(kwargs, error, match):
    X, y = make_problem(m=60, n=4)
    with pytest.raises(error, match=match):
        jaxlr.solve(X, y, **kwargs)


def test_bad_data_names_the_argument():
    X, y = make_problem(m=60, n=4)
    with pytest.raises(ValueError, match="y must have shape"):
        jaxlr.solve(X, y[:10])
    with pytest.raises(ValueError, match="X"):
        jaxlr.solve(X[:, :, None], y)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        jaxlr.solve(X, 2 * y)
    with pytest.raises(ValueError, match="class codes"):
        jaxlr.solve(X, y.astype(int) - 1, n_classes=2)
    with pytest.raises(ValueError, match="n_classes"):  # traced integer codes: how many classes?
        jax.jit(lambda y: jaxlr.solve(X, y))(y.astype(np.int32))
