"""The design matrix interface: dense and sparse designs give X's products, exactly.

Every sparse layout (one chunk per row, chunks of a fixed width, blocked or not, with or
without the chunked columns) is checked against the dense matrix it holds, in every
transformation the engine uses: jit, grad, vmap over lanes (the lanes-last rule), vmap of
grad, jax.hessian (without the transpose), rows, pad and gram.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp

from jaxlr._core import design as _design
from jaxlr._core import sparse as _sparse

ATOL = 1e-12


def skewed(m=40, n=9, seed=0):
    """Rows of very different lengths, an empty row and an empty column."""
    rng = np.random.default_rng(seed)
    X = (rng.random((m, n)) < rng.random((m, 1)) ** 3) * rng.standard_normal((m, n))
    X[3] = 0.0
    X[:, 5] = 0.0
    X[7] = rng.standard_normal(n)  # one full row
    X[7, 5] = 0.0
    return sp.csr_matrix(X), X


LAYOUTS = [dict(), dict(width="ell"), dict(width=2), dict(width=4, block=8), dict(width="ell", block=4)]


@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("layout", LAYOUTS, ids=str)
def test_sparse_products_equal_dense(layout, transpose):
    S, X = skewed()
    m, n = X.shape
    D = _sparse.sparse(S, transpose, **layout)
    assert D.shape == (m, n) and D.has_fast_transpose == transpose
    rng = np.random.default_rng(1)
    w, W = rng.standard_normal(n), rng.standard_normal((n, 3))
    r, R = rng.standard_normal(m), rng.standard_normal((m, 3))
    np.testing.assert_allclose(D.matmul(w), X @ w, atol=ATOL)
    np.testing.assert_allclose(D.matmul(W), X @ W, atol=ATOL)
    np.testing.assert_allclose(D.rmatmul(r), X.T @ r, atol=ATOL)
    np.testing.assert_allclose(D.rmatmul(R), X.T @ R, atol=ATOL)
    np.testing.assert_allclose(jax.jit(lambda D, w: D @ w)(D, w), X @ w, atol=ATOL)

    def f(v):
        return jnp.sum(jnp.sin(D @ v))

    np.testing.assert_allclose(jax.grad(f)(w), X.T @ np.cos(X @ w), atol=ATOL)
    lanes = rng.standard_normal((5, n))
    np.testing.assert_allclose(jax.vmap(lambda v: D @ v)(lanes), lanes @ X.T, atol=ATOL)
    np.testing.assert_allclose(jax.vmap(jax.grad(f))(lanes), np.cos(lanes @ X.T) @ X, atol=ATOL)
    nested = rng.standard_normal((2, 4, n))  # vmap of vmap: the rule folds both into lanes
    np.testing.assert_allclose(jax.vmap(jax.vmap(lambda v: D @ v))(nested), nested @ X.T, atol=ATOL)
    np.testing.assert_allclose(jax.vmap(lambda v: D.rmatmul(v))(rng.standard_normal((2, m))).shape, (2, n))
    if not transpose:  # forward over reverse; with the columns, their lanes-last vmap rule refuses jvp
        H = jax.hessian(lambda v: jnp.sum(jnp.exp(D @ v)))(w)
        np.testing.assert_allclose(H, X.T @ (np.exp(X @ w)[:, None] * X), rtol=1e-10)


@pytest.mark.parametrize("layout", LAYOUTS[:3], ids=str)
def test_sparse_rows_pad_gram(layout):
    S, X = skewed()
    m, n = X.shape
    D = _sparse.sparse(S, True, **layout)
    rng = np.random.default_rng(2)
    w = rng.standard_normal(n)
    idx = jnp.asarray([0, m - 1, 7, 7, 3])
    np.testing.assert_allclose(D[idx].matmul(w), X[np.asarray(idx)] @ w, atol=ATOL)
    r = rng.standard_normal(5)
    np.testing.assert_allclose(jax.grad(lambda v: jnp.vdot(D[idx] @ v, r))(w), X[np.asarray(idx)].T @ r,
                               atol=ATOL)
    P = D.pad(m + 3, n + 2)
    assert P.shape == (m + 3, n + 2)
    np.testing.assert_allclose(P.matmul(np.r_[w, 1.0, 1.0]), np.r_[X @ w, 0, 0, 0], atol=ATOL)
    np.testing.assert_allclose(P.rmatmul(np.r_[np.ones(m), 1, 1, 1]), np.r_[X.sum(0), 0, 0], atol=ATOL)
    np.testing.assert_allclose(P[jnp.asarray([m + 1, 7])].matmul(np.r_[w, 1, 1]), [0.0, X[7] @ w], atol=ATOL)
    d, dk = rng.random(m), rng.random((m, 2))
    np.testing.assert_allclose(D.gram(d), X.T @ (d[:, None] * X), atol=ATOL)
    np.testing.assert_allclose(D.gram(dk), np.einsum("mi,mk,mj->kij", X, dk, X), atol=ATOL)
    with pytest.raises(ValueError, match="smaller"):
        D.pad(m - 1, n)


def test_dense_padded_and_gram():
    from jaxlr._train.layout import _pad_matrix  # dense X is padded on the host, before the design

    rng = np.random.default_rng(3)
    X = rng.standard_normal((6, 4))
    Xp = _pad_matrix(X, 8, 5)
    for transpose in (False, True):
        for P in (_design.dense(Xp, transpose), _design.DenseDesign(Xp, Xp.T.copy() if transpose else None)):
            assert P.shape == (8, 5) and P.has_fast_transpose == transpose
            np.testing.assert_allclose(np.asarray(P.X)[:6, :4], X)
            assert not np.asarray(P.X)[6:].any() and not np.asarray(P.X)[:, 4:].any()
            np.testing.assert_allclose(P.rmatmul(np.ones(8))[:4], X.sum(0))
    d = rng.random(6)
    np.testing.assert_allclose(_design.dense(X).gram(d), X.T @ (d[:, None] * X), atol=ATOL)


@pytest.mark.parametrize("n_weights", [1, _design.PAIRWISE_MIN_WEIGHTS - 1, _design.PAIRWISE_MIN_WEIGHTS, 20])
@pytest.mark.parametrize("m", [37, 3 * _design.GRAM_BLOCK + 5])  # below and above the blocked form
def test_dense_gram_of_many_weights(m, n_weights):
    """Both forms (a weighted GEMM per column below PAIRWISE_MIN_WEIGHTS, pairwise products
    from it on) give X^T diag(D[:, k]) X for every k, and [X, 1]'s for the augmented blocks."""
    from jaxlr._core.problem import augmented_gram

    rng = np.random.default_rng(5)
    X, D = rng.standard_normal((m, 6)), rng.random((m, n_weights))
    np.testing.assert_allclose(_design.dense(X).gram(D), np.einsum("mi,mk,mj->kij", X, D, X), atol=1e-10)
    X1 = np.hstack([X, np.ones((m, 1))])  # Newton's and inference's blocks: [X, 1]
    np.testing.assert_allclose(augmented_gram(_design.dense(X), D), np.einsum("mi,mk,mj->kij", X1, D, X1), atol=1e-10)


def test_a_width_that_holds_every_row_is_one_chunk_per_row():
    rng = np.random.default_rng(4)
    X = (rng.random((30, 12)) < 0.4) * rng.standard_normal((30, 12))
    X[:, 0] = 1.0  # no empty row
    D = _sparse.sparse(sp.csr_matrix(X), True, width=16)
    assert D.fwd.segment is None and D.row_start is None
    w = rng.standard_normal(12)
    np.testing.assert_allclose(D.matmul(w), X @ w, atol=ATOL)
    np.testing.assert_allclose(D.rmatmul(np.ones(30)), X.sum(0), atol=ATOL)


def test_sparse_input_and_chunk_width():
    from jaxlr._train.data import is_sparse

    S, X = skewed()
    assert is_sparse(S) and not is_sparse(X)
    # even short rows: one chunk per row; a few very long rows: chunks with a segment_sum
    assert _sparse.chunk_width(np.full(100, 20)) is None
    lengths = np.r_[np.full(1000, 3), [5000]]
    assert _sparse.chunk_width(lengths) in _sparse.WIDTHS
    D = _sparse.sparse(sp.csr_matrix(np.zeros((4, 3))))  # all zero: products are zero
    np.testing.assert_array_equal(D.matmul(np.ones(3)), np.zeros(4))


def test_sparse_design_keeps_float32():
    S, X = skewed()
    D = _sparse.sparse(S.astype(np.float32), True)
    assert D.dtype == np.float32
    w = np.ones(X.shape[1], np.float32)
    assert D.matmul(w).dtype == np.float32 and D.rmatmul(np.ones(X.shape[0], np.float32)).dtype == np.float32
    np.testing.assert_allclose(D.matmul(w), X.astype(np.float32) @ w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(7, 3), (1000, 70), (1537, 64), (0, 5)])
def test_the_host_transpose_is_x_transposed(shape):
    from jaxlr._core.design import transposed

    X = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    out = transposed(X)
    assert out.flags.c_contiguous and np.array_equal(out, X.T)
    rows, out = transposed(X, copy=True)  # the aligned copy made in the same blocks
    assert out.flags.c_contiguous and np.array_equal(out, X.T)
    assert rows.flags.c_contiguous and np.array_equal(rows, X) and (rows.size == 0 or rows.ctypes.data % 64 == 0)


def test_a_misaligned_x_and_its_transpose_reach_the_device_equal():
    from jaxlr._core.design import ADOPT_MIN_BYTES, dense

    m = ADOPT_MIN_BYTES // (8 * 4) + 3  # large enough to be copied, not adopted
    raw = np.arange(m * 8 + 1, dtype=np.float32)
    X = raw[1:].reshape(m, 8)  # 4 bytes past numpy's alignment
    assert X.ctypes.data % 64 != 0
    D = dense(X, transpose=True)
    assert np.array_equal(np.asarray(D.X), X) and np.array_equal(np.asarray(D.XT), X.T)


def test_a_design_of_x_transposed_alone_gives_the_same_products():
    """``dense(..., keep_rows=False)`` keeps only X^T (one-lane fits): every product, and what needs
    rows (Grams, minibatches), equals the design that holds both."""
    from jaxlr._core.design import dense

    rng = np.random.default_rng(3)
    X = rng.standard_normal((50, 7))
    both, alone = dense(X, transpose=True), dense(X, transpose=True, keep_rows=False)
    assert alone.X is None and alone.shape == (50, 7) and alone.dtype == X.dtype
    assert alone.nbytes == X.nbytes and both.nbytes == 2 * X.nbytes
    for W in (rng.standard_normal(7), rng.standard_normal((7, 1)), rng.standard_normal((7, 3))):
        np.testing.assert_allclose(alone.matmul(W), both.matmul(W), rtol=1e-12, atol=1e-12)
    for R in (rng.standard_normal(50), rng.standard_normal((50, 4))):
        np.testing.assert_allclose(alone.rmatmul(R), both.rmatmul(R), rtol=1e-12, atol=1e-12)
    for D in (rng.random(50), rng.random((50, 2)), rng.random((50, 5))):
        np.testing.assert_allclose(alone.gram(D), both.gram(D), rtol=1e-12, atol=1e-12)
    idx = np.array([3, 1, 4])
    np.testing.assert_array_equal(alone.rows(idx).X, X[idx])


@pytest.mark.filterwarnings("ignore::jaxlr.ConvergenceWarning")  # gd's budget: only the layout matters here
@pytest.mark.parametrize("solver, n_models, keeps_rows", [
    ("lbfgs", 1, False), ("gd", 1, False), ("lbfgs", 2, True), ("newton", 1, True), ("fista", 1, False)])
def test_one_lane_fits_put_only_x_transposed_on_the_device(monkeypatch, solver, n_models, keeps_rows):
    """A one-lane fit of a solver that forms no Gram reads X only through X^T: the copy of X's
    rows (8 ms of a 100,000 x 100 L-BFGS fit) is not made."""
    import jaxlr
    from jaxlr._train import train

    kept = []
    real = train.prepare

    def spy(*args, **kwargs):
        prepared = real(*args, **kwargs)
        kept.append(prepared.design.X is not None)
        return prepared

    monkeypatch.setattr(train, "prepare", spy)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 4))
    y = (X[:, 0] + rng.standard_normal(80) > 0).astype(int)
    if n_models == 1:
        jaxlr.fit(X, y, solver=solver, l2=0.1, tol=1e-6, steps=100)
    else:
        jaxlr.sweep(X, y, solver=solver, l2=[0.1, 1.0], tol=1e-6, steps=100)
    assert kept == [keeps_rows]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_host_sparse_products_and_their_gradients_equal_dense(dtype):
    """scipy's products on the host (two threads, padded shape) equal the dense products, in the
    input's dtype, and reverse mode through them gives the dense gradient."""
    from jaxlr._core.host_sparse import host_sparse

    rng = np.random.default_rng(4)
    A = (rng.random((301, 37)) < 0.2) * rng.standard_normal((301, 37))
    D = host_sparse(sp.csr_matrix(A.astype(dtype)), (320, 40))
    Xd = np.zeros((320, 40)); Xd[:301, :37] = A
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for W in (rng.standard_normal(40), rng.standard_normal((40, 3))):
        out = jax.jit(lambda D, W: D.matmul(W))(D, W.astype(dtype))
        assert out.dtype == dtype and out.shape == (320,) + W.shape[1:]
        np.testing.assert_allclose(out, Xd @ W, rtol=tol, atol=tol)
    R = rng.standard_normal((320, 2))
    np.testing.assert_allclose(jax.jit(lambda D, R: D.rmatmul(R))(D, R.astype(dtype)), Xd.T @ R, rtol=tol, atol=tol)
    W = rng.standard_normal((40, 2)).astype(dtype)
    grad = jax.jit(jax.grad(lambda W, D: jnp.sum(jnp.sin(D @ W))))(W, D)
    np.testing.assert_allclose(grad, Xd.T @ np.cos(Xd @ W), rtol=10 * tol, atol=10 * tol)


def test_host_sparse_matrices_are_released_with_their_design():
    import gc

    from jaxlr._core import host_sparse as hs
    from jaxlr._core.programs import _unkeepable

    before = len(hs._MATRICES)
    D = hs.host_sparse(sp.random(50, 8, density=0.3, format="csr", random_state=1))
    assert len(hs._MATRICES) == before + 1 and D.nnz == 120
    assert _unkeepable((D,))  # jax.export cannot keep a program calling the host (the executable store can)
    del D
    gc.collect()
    assert len(hs._MATRICES) == before


def test_a_loaded_programs_host_callback_checks_what_it_returns(monkeypatch):
    """A kept program's callbacks are attached at load (``loaded_callback``), where XLA copies
    whatever they return: the products equal ``host_product``'s, in shape and dtype (float64 as
    bits too), and a result of the wrong shape is an error, never written past the buffer."""
    from jaxlr._core import host_sparse as hs

    A = sp.random(30, 7, density=0.4, format="csr", random_state=2, dtype=np.float64)
    D = hs.host_sparse(A, (32, 8))
    token = np.asarray(D.token)
    W = np.random.default_rng(0).standard_normal((8, 3))
    (out,) = hs.loaded_callback(token, np.int32(hs.FORWARD), W)
    np.testing.assert_allclose(out[:30], A @ W[:7], rtol=1e-12)
    bits = np.ascontiguousarray(W[:, :1]).view(np.uint32).reshape(8, 1, 2)  # float64 values as uint32 pairs
    (back,) = hs.loaded_callback(token, np.int32(hs.BACKWARD), np.zeros((32, 1, 2), np.uint32))
    assert back.shape == (8, 1, 2) and back.dtype == np.uint32
    (fwd,) = hs.loaded_callback(token, np.int32(hs.FORWARD), bits)
    np.testing.assert_allclose(fwd.view(np.float64)[:30, 0, 0], A @ W[:7, 0], rtol=1e-12)
    monkeypatch.setattr(hs, "host_product", lambda token, op, V: np.zeros((31,) + np.shape(V)[1:]))
    with pytest.raises(RuntimeError, match="expected"):
        hs.loaded_callback(token, np.int32(hs.FORWARD), W)


def test_host_sparse_keeps_float64_under_the_enable_x64_context():
    """With x64 off globally and on in ``jax.enable_x64(True)``, a float64 sparse fit stays float64
    and equals the dense one: XLA may run the host products on a worker thread, which the context
    does not reach, and JAX converted their float64 values to float32 there (a dtype error).
    Outside the context, a float64 CSR computes in float32 like dense input (it crashed: the host
    matrix kept float64 where the program had float32)."""
    import os
    import subprocess
    import sys

    code = (
        "import numpy as np, scipy.sparse as sp, jax, jaxlr\n"
        "rng = np.random.default_rng(0)\n"
        "A = (rng.random((2000, 60)) < 0.1) * rng.standard_normal((2000, 60))\n"
        "y = (A @ rng.standard_normal(60) > 0).astype(int)\n"
        "kw = dict(solver='gd', learning_rate=0.5, steps=300, tol=None, l2=1e-2)\n"
        "with jax.enable_x64(True):\n"
        "    a, b = jaxlr.fit(sp.csr_matrix(A), y, **kw), jaxlr.fit(A, y, **kw)\n"
        "print(np.asarray(a.coef).dtype, float(np.max(np.abs(np.asarray(a.coef) - np.asarray(b.coef)))))\n"
        "from jaxlr.sklearn import LogisticRegression\n"  # x64 off: float64 input computes in float32
        "c, d = (LogisticRegression(C=10.0, solver='lbfgs', tol=1e-8).fit(Z, y) for Z in (sp.csr_matrix(A), A))\n"
        "print(float(np.max(np.abs(c.coef_ - d.coef_))))\n"
    )
    env = {**os.environ, "JAX_ENABLE_X64": "0", "JAXLR_CACHE_DIR": ""}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    dtype, diff, diff32 = out.stdout.split()
    assert dtype == "float64" and float(diff) < 1e-10 and float(diff32) < 1e-4
