"""Property tests of the loss and objective: the checklist from jaxopt's loss tests."""

import math

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from jax.test_util import check_grads

from jaxlr.losses import (
    binary_cross_entropy, binary_log_loss, objective, smooth_objective, softmax_cross_entropy,
    objective_from_logits, softmax_log_loss,
)
from jaxlr import Params

SHAPES = [(5, 2), (17, 3), (32, 1)]  # a fixed set: each shape is traced once


@st.composite
def problems(draw, dtype=np.float64):
    """(X, y, w, b, weights) for one of a few fixed shapes, values drawn by hypothesis."""
    m, n = draw(st.sampled_from(SHAPES))
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from([0.1, 1.0, 10.0]))
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((m, n)) * scale).astype(dtype)
    y = rng.integers(0, 2, m).astype(dtype)
    w = rng.standard_normal(n).astype(dtype)
    b = dtype(rng.standard_normal())
    weights = rng.integers(1, 4, m).astype(dtype)
    return X, y, w, b, weights


def exact_log_loss(z: float, y: int) -> float:
    """-log sigmoid(z) for y=1, -log(1 - sigmoid(z)) for y=0, in 50-digit arithmetic."""
    mpmath.mp.dps = 50
    s = -z if y == 1 else z
    return float(mpmath.log1p(mpmath.exp(mpmath.mpf(s))))


def closed_form_gradient(X, y, w, b, weights):
    """The seed's gradient X^T (sigmoid(Xw + b) - y) / m, weighted; and its intercept part."""
    r = weights * (1 / (1 + np.exp(-(X @ w + b))) - y) / weights.sum()
    return X.T @ r, r.sum()


@given(problems())
def test_jax_grad_equals_closed_form(p):
    X, y, w, b, weights = p
    grad = jax.grad(objective)(Params(w, b), X, y, weights)
    g_w, g_b = closed_form_gradient(X, y, w, b, weights)
    np.testing.assert_allclose(grad.coef, g_w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad.intercept, g_b, rtol=1e-10, atol=1e-12)


@given(problems())
def test_finite_differences(p):
    X, y, w, b, weights = p
    f = lambda coef, intercept: objective(Params(coef, intercept), X, y, weights, 0.0, 0.3)  # noqa: E731
    check_grads(f, (jnp.asarray(w), jnp.asarray(b)), order=2, modes=("rev",), eps=1e-4)


@given(problems())
def test_loss_nonnegative_and_log2_at_zero(p):
    X, y, w, b, weights = p
    assert float(binary_cross_entropy(X @ w + b, y, weights)) >= 0
    zero = binary_cross_entropy(jnp.zeros(len(y)), y, weights)
    assert float(zero) == pytest.approx(math.log(2), rel=1e-15)


@given(problems())
def test_flipping_a_label_equals_negating_its_logit(p):
    X, y, w, b, _ = p
    z = X @ w + b
    np.testing.assert_allclose(binary_log_loss(z, 1 - y), binary_log_loss(-z, y), rtol=1e-14)


@given(problems(), st.integers(0, 2**31 - 1))
def test_permuting_rows_changes_nothing(p, seed):
    X, y, w, b, weights = p
    perm = np.random.default_rng(seed).permutation(len(y))
    a = objective(Params(w, b), X, y, weights, 0.1, 0.2)
    c = objective(Params(w, b), X[perm], y[perm], weights[perm], 0.1, 0.2)
    assert float(a) == pytest.approx(float(c), rel=1e-13)


@given(problems())
def test_integer_weights_equal_repeated_rows(p):
    X, y, w, b, weights = p
    reps = weights.astype(int)
    a = objective(Params(w, b), X, y, weights, 0.0, 0.5)
    c = objective(Params(w, b), np.repeat(X, reps, axis=0), np.repeat(y, reps), None, 0.0, 0.5)
    assert float(a) == pytest.approx(float(c), rel=1e-13)


@given(problems(), st.integers(0, 2**31 - 1), st.floats(0.0, 1.0))
def test_convex_along_random_lines(p, seed, a):
    X, y, w, b, weights = p
    rng = np.random.default_rng(seed)
    p1, p2 = Params(w, b), Params(w + rng.standard_normal(w.shape) * 3, b + rng.standard_normal())
    mid = jax.tree_util.tree_map(lambda u, v: a * u + (1 - a) * v, p1, p2)
    f = lambda q: float(objective(q, X, y, weights, 0.05, 0.1))  # noqa: E731
    assert f(mid) <= a * f(p1) + (1 - a) * f(p2) + 1e-12


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(z=st.sampled_from([1e4, -1e4, 1e3, -1e3, 100.0, -100.0, 40.0, -40.0, 17.5, -17.5, 0.5, -3.0]),
       label=st.sampled_from([0, 1]))
@example(z=1e4, label=1)
@example(z=-1e4, label=1)
def test_finite_and_accurate_at_extreme_logits(dtype, z, label):
    got = binary_log_loss(jnp.asarray([z], dtype), jnp.asarray([label], dtype))
    assert got.dtype == dtype
    exact = exact_log_loss(float(dtype(z)), label)
    got = float(got[0])
    assert math.isfinite(got)
    if exact < np.finfo(dtype).tiny:  # underflows to zero in this dtype: so must ours
        assert got == 0.0 or abs(got - exact) <= np.finfo(dtype).tiny
    else:
        assert abs(got - exact) <= 1e-5 * exact
    grad = jax.grad(lambda t: binary_log_loss(t, jnp.asarray(label, dtype)))(jnp.asarray(z, dtype))
    assert bool(jnp.isfinite(grad))


def test_seed_formula_breaks_where_ours_does_not():
    """The seed's log(sigmoid) is not finite at large logits; ours is exact there."""
    z, y = np.array([40.0, -40.0]), np.array([0.0, 1.0])
    with np.errstate(all="ignore"):
        h = 1 / (1 + np.exp(-z))
        seed = -(y * np.log(h) + (1 - y) * np.log(1 - h))
    assert not np.isfinite(seed).all()
    np.testing.assert_allclose(binary_log_loss(z, y), [40.0, 40.0], rtol=1e-15)


@given(problems())
def test_vmap_equals_loop(p):
    X, y, w, b, weights = p
    ws = np.stack([w, -w, 2 * w])
    batched = jax.vmap(lambda c: objective(Params(c, b), X, y, weights, 0.1, 0.1))(ws)
    looped = [objective(Params(c, b), X, y, weights, 0.1, 0.1) for c in ws]
    np.testing.assert_allclose(batched, looped, rtol=1e-13)


@given(problems())
def test_jit_equals_eager(p):
    X, y, w, b, weights = p
    eager = objective(Params(w, b), X, y, weights, 0.1, 0.2)
    jitted = jax.jit(objective)(Params(w, b), X, y, weights, 0.1, 0.2)
    assert float(eager) == pytest.approx(float(jitted), rel=1e-13)


@given(problems(dtype=np.float32))
def test_float32_in_float32_out(p):
    X, y, w, b, weights = p
    value, grad = jax.value_and_grad(objective)(Params(w, b), X, y, weights, 0.1, 0.1)
    assert value.dtype == np.float32
    assert grad.coef.dtype == np.float32 and grad.intercept.dtype == np.float32


def test_intercept_is_not_penalized():
    X = np.ones((4, 1))
    y = np.array([0.0, 1.0, 1.0, 1.0])
    f = lambda b: smooth_objective(Params(jnp.zeros(1), b), X, y, None, 100.0)  # noqa: E731
    g = lambda b: smooth_objective(Params(jnp.zeros(1), b), X, y, None, 0.0)  # noqa: E731
    assert float(f(3.0)) == float(g(3.0))


def test_softmax_two_classes_equals_binary():
    """Softmax over logits (0, z) is the binary loss at z."""
    z = jnp.asarray([-30.0, -1.0, 0.0, 2.5, 700.0])
    y = jnp.asarray([0, 1, 1, 0, 1])
    two = jnp.stack([jnp.zeros_like(z), z], axis=1)
    np.testing.assert_allclose(softmax_cross_entropy(two, y), binary_cross_entropy(z, y), rtol=1e-13)


@pytest.mark.parametrize("lanes", [1, 2])
@pytest.mark.parametrize("classes", [None, 20])
def test_float32_objective_of_many_equal_losses_is_accurate(classes, lanes):
    """At zero logits every row's loss is the same (log 2, log C): a row-after-row float32 sum of
    12,000 of them drifts by ~1e-4 (relative), which hid the decrease a line search must see
    near a strongly penalized optimum (one softmax lane: 2.7e-4 off, 435 L-BFGS steps instead of
    13 on the bench's probe). The mean must be within a few ulps of the value."""
    m, K = 12_000, lanes
    logits = jnp.zeros((m, K) if classes is None else (m, classes, K), jnp.float32)
    labels = jnp.asarray(np.random.default_rng(0).integers(0, classes or 2, m))
    weight = jnp.ones((m, K), jnp.float32)
    coef = jnp.zeros((3, K), jnp.float32)
    mean = jax.jit(lambda z, w: objective_from_logits(z, labels, w, coef, class_axis=None if classes is None else 1,
                                                      coef_axis=0))
    exact = math.log(classes or 2)
    np.testing.assert_allclose(mean(logits, weight), [exact] * K, rtol=8 * np.finfo(np.float32).eps)


@pytest.mark.parametrize("lanes", [(), (3,)])
def test_softmax_gradient_is_probabilities_minus_one_hot_without_scatter(lanes):
    """d/dz sum_i softmax_log_loss = softmax(z) - onehot(y) along the class axis, for one model
    (m, C) and for K models (m, C, K); and the gradient is a select, not a scatter-add (which
    XLA:CPU runs as a loop over rows, 0.8 ms of a 12 ms 5-class CV evaluation)."""
    rng = np.random.default_rng(0)
    m, C = 7, 4
    y = jnp.asarray(rng.integers(0, C, m))
    z = jnp.asarray(rng.standard_normal((m, C) + lanes))
    loss = lambda t: jnp.sum(softmax_log_loss(t, y, axis=1))  # noqa: E731
    p = np.exp(z - jax.nn.logsumexp(z, axis=1, keepdims=True))
    one_hot = np.asarray(jax.nn.one_hot(y, C)).reshape((m, C) + (1,) * len(lanes))
    np.testing.assert_allclose(jax.grad(loss)(z), p - one_hot, rtol=1e-12, atol=1e-15)
    assert "scatter" not in str(jax.make_jaxpr(jax.grad(loss))(z))


@pytest.mark.parametrize("label", [0.0, 1.0, 0.3])
def test_second_derivative_is_sigmoid_variance_including_zero(label):
    """Newton relies on d2/dz2 loss = s(1 - s), s = sigmoid(z); z = 0 exactly is where an
    |z|-based formula would get it wrong (the first Newton step starts from zero logits)."""
    z = jnp.asarray([0.0, -0.0, 1e-30, -2.0, 3.5, 40.0])
    second = jax.vmap(jax.grad(jax.grad(lambda t: binary_log_loss(t, jnp.asarray(label)))))(z)
    s = 1 / (1 + np.exp(-np.asarray(z)))
    e = np.exp(-np.abs(np.asarray(z)))
    np.testing.assert_allclose(second, e / (1 + e) ** 2, rtol=1e-12, atol=1e-300)
    first = jax.vmap(jax.grad(lambda t: binary_log_loss(t, jnp.asarray(label))))(z)
    np.testing.assert_allclose(first, s - label, rtol=1e-12, atol=1e-15)
