"""A sparse X whose products scipy computes on the host CPU, two threads, inside compiled programs.

XLA:CPU runs a sparse product as one thread's gather loop: on the sparse fit's 200,000 x 100,000
float32 CSR (10M non-zeros) jaxlr's chunked kernels took 17.5 ms forward and 24.4 ms backward,
scipy's own CSR kernels 11.0 and 16.5 ms on one thread, and 7.9 and 8.1 ms on two (each thread
a half of the rows: scipy's sparse kernels release the GIL). So on the CPU the full-batch solvers
call scipy through ``jax.pure_callback``, each thread taking half of X's rows; the backward
product sums the two halves' ``X_h^T R_h``, read from the same CSR arrays (no transposed copy).

The design is a pytree of one leaf, an int32 token naming the host matrix in a registry, so one
compiled program serves every X of the same (padded) shape and dtype. The registry entry lives as
long as the design that ``host_sparse`` returned (``weakref.finalize``). Every product is one
function, ``host_product(token, op, V)``, whose arguments say everything it computes: a compiled
program with these callbacks is kept across processes by attaching that function again when the
executable is loaded (``programs``; ``jax.export`` cannot serialize host callbacks, but XLA's
executables can, without them).
"""

from __future__ import annotations

import itertools
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .design import linear

_MATRICES: dict[int, "_HostMatrix"] = {}
_TOKENS = itertools.count()
_POOL: list[ThreadPoolExecutor] = []  # made on first use: importing jaxlr starts no thread
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    with _POOL_LOCK:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(2, thread_name_prefix="jaxlr-sparse"))
        return _POOL[0]


class _HostMatrix:
    """A CSR matrix as two row blocks of about equal non-zeros (views of its arrays, no copy),
    each ``(first row, end row, the block as CSR, its transpose as CSC)``."""

    def __init__(self, csr, shape: tuple[int, int]):
        import scipy.sparse

        m, n = csr.shape
        self.n, self.nnz, self.padded, self.dtype = n, int(csr.nnz), shape, csr.dtype
        cut = int(np.searchsorted(csr.indptr, csr.nnz // 2)) if m > 1 else m
        self.blocks = []
        for lo, hi in ((0, cut), (cut, m)):
            start, stop = csr.indptr[lo], csr.indptr[hi]
            arrays = (csr.data[start:stop], csr.indices[start:stop], csr.indptr[lo:hi + 1] - start)
            self.blocks.append((lo, hi, _view(scipy.sparse.csr_matrix, (hi - lo, n), *arrays),
                                _view(scipy.sparse.csc_matrix, (n, hi - lo), *arrays)))

    def forward(self, W: np.ndarray) -> np.ndarray:
        """``X @ W`` for W (n_pad,) or (n_pad, K), padded to (m_pad, ...) with zero rows."""
        W = np.asarray(W)[: self.n]
        out = np.zeros((self.padded[0],) + W.shape[1:], W.dtype)

        def block(part):
            lo, hi, A, _ = part
            out[lo:hi] = A @ W

        list(_pool().map(block, self.blocks))
        return out

    def backward(self, R: np.ndarray) -> np.ndarray:
        """``X^T @ R`` for R (m_pad,) or (m_pad, K), padded to (n_pad, ...) with zero rows."""
        R = np.asarray(R)
        out = np.zeros((self.padded[1],) + R.shape[1:], R.dtype)
        out[: self.n] = sum(_pool().map(lambda part: part[3] @ R[part[0]:part[1]], self.blocks))
        return out


def _view(kind, shape, data, indices, indptr):
    """A scipy CSR or CSC matrix of ``shape`` over these arrays as they are. Its arrays are set as
    attributes: the constructor's format check (also behind ``.T``) copies an index or data array
    that is a view of less than half of its base (``prune``): the smaller block's 40 MB on the
    10M-non-zero fit, 7-75 ms when the design is made and again in every backward product."""
    matrix = kind(shape, dtype=data.dtype)
    matrix.data, matrix.indices, matrix.indptr = data, indices, indptr
    return matrix


FORWARD, BACKWARD = 0, 1  # ``host_product``'s ``op``


def host_product(token, op, V) -> np.ndarray:
    """``X @ V`` (``op`` 0) or ``X^T @ V`` (``op`` 1) for the matrix ``token`` names. 64-bit
    values cross as uint32 pairs, both ways (see ``_callback``)."""
    matrix = _MATRICES[int(token)]
    fn = matrix.backward if int(op) == BACKWARD else matrix.forward
    V = np.asarray(V)
    if V.dtype != np.uint32:
        return fn(V)
    result = np.ascontiguousarray(fn(V.view(matrix.dtype)[..., 0]), matrix.dtype)
    return result.view(np.uint32).reshape(result.shape + (2,))


def loaded_callback(token, op, V) -> tuple:
    """``host_product`` as a loaded executable calls a host callback: NumPy arguments, a tuple of
    results. XLA copies what a loaded executable's callback returns without checking it (JAX's
    wrapper checks when JAX compiles the program), so the result's shape and dtype are checked
    here: the matrix's padded rows (forward) or columns (backward) by V's other axes, V's dtype."""
    result, V = host_product(token, op, V), np.asarray(V)
    rows, cols = _MATRICES[int(token)].padded
    expected = ((cols if int(op) == BACKWARD else rows),) + V.shape[1:]
    if result.shape != expected or result.dtype != V.dtype:
        raise RuntimeError(f"host product {int(op)}: {result.shape} {result.dtype}, expected {expected} {V.dtype}")
    return (result,)


def _callback(meta, token, V):
    (m, n), dtype, transposed = meta
    shape = ((n if transposed else m),) + V.shape[1:]
    op = jnp.asarray(BACKWARD if transposed else FORWARD, jnp.int32)
    if dtype.itemsize == 4:
        return jax.pure_callback(host_product, jax.ShapeDtypeStruct(shape, dtype), token, op, V,
                                 vmap_method="sequential")
    # 64-bit values cross as bits: JAX converts a callback's float64 arguments and results by the
    # x64 setting of the thread that runs it, and XLA may run it on a worker thread, which
    # ``with jax.enable_x64(True)`` does not reach (the values arrived as float32)
    bits = jax.lax.bitcast_convert_type(V, jnp.uint32)
    out = jax.ShapeDtypeStruct(shape + (2,), jnp.uint32)
    result = jax.pure_callback(host_product, out, token, op, bits, vmap_method="sequential")
    return jax.lax.bitcast_convert_type(result, dtype)


@partial(jax.custom_vjp, nondiff_argnums=(0,))
def _product(meta, token, V):
    """``X @ V`` (``X^T @ V`` when ``meta[2]``); reverse mode: the other product."""
    return _callback(meta, token, V)


def _product_fwd(meta, token, V):
    return _callback(meta, token, V), token


def _product_bwd(meta, token, g):
    shape, dtype, transposed = meta
    return None, _callback((shape, dtype, not transposed), token, g)


_product.defvjp(_product_fwd, _product_bwd)


@jax.tree_util.register_pytree_node_class
class HostSparseDesign:
    """A sparse (m, n) matrix kept on the host, its products computed by scipy (see the module).
    Offers ``matmul`` and ``rmatmul`` (what full-batch first-order and quasi-Newton solvers use);
    not Grams or minibatch rows."""

    def __init__(self, token: Any, shape: tuple[int, int], dtype):
        self.token, self.shape, self.dtype = token, (int(shape[0]), int(shape[1])), np.dtype(dtype)

    def tree_flatten(self):
        return (self.token,), (self.shape, self.dtype)

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(children[0], *aux)

    @property
    def nbytes(self) -> int:
        return 0  # nothing on the device

    @property
    def has_fast_transpose(self) -> bool:
        return True

    @property
    def nnz(self) -> int:
        """Stored entries (for the choice of compiled variant); on the host only."""
        return _MATRICES[int(self.token)].nnz

    def matmul(self, W: jax.Array) -> jax.Array:
        return _product((self.shape, self.dtype, False), self.token, W.astype(self.dtype))

    def rmatmul(self, R: jax.Array) -> jax.Array:
        return _product((self.shape, self.dtype, True), self.token, R.astype(self.dtype))

    def gram(self, D):
        raise NotImplementedError("HostSparseDesign has no Gram matrices: solvers that form them use SparseDesign")

    def rows(self, idx):
        raise NotImplementedError("HostSparseDesign has no minibatch rows: minibatches use SparseDesign")

    def __matmul__(self, W: jax.Array) -> jax.Array:
        return linear(self, W)


def host_sparse(X, shape: tuple[int, int] | None = None) -> HostSparseDesign:
    """A host design of a validated scipy CSR matrix, presented as ``shape`` (padded: the extra
    rows and columns hold no entries). The matrix stays registered while the returned design
    lives."""
    import scipy.sparse

    csr = scipy.sparse.csr_matrix(X)
    dtype = np.dtype(jax.dtypes.canonicalize_dtype(csr.dtype))  # what the program computes in
    if dtype != csr.dtype:  # float64 with x64 off, as ``device_put`` would make it
        csr = csr.astype(dtype)
    shape = csr.shape if shape is None else shape
    if shape[0] < csr.shape[0] or shape[1] < csr.shape[1]:
        raise ValueError(f"host_sparse: shape {shape} is smaller than X's {csr.shape}")
    key = next(_TOKENS)
    _MATRICES[key] = _HostMatrix(csr, shape)
    # device_put: ``jnp.asarray(key, jnp.int32)`` compiles a conversion (~80 ms in a fresh process)
    design = HostSparseDesign(jax.device_put(np.int32(key)), shape, csr.dtype)
    weakref.finalize(design, _MATRICES.pop, key, None)
    return design


def is_host(design) -> bool:
    return isinstance(design, HostSparseDesign)


__all__ = ["HostSparseDesign", "host_sparse", "is_host", "host_product", "loaded_callback"]
