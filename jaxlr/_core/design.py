"""The design matrix X as the solvers see it: a pytree with the products they need.

Every solver touches X only through these operations, so dense and sparse data share one
engine:

- ``linear(design, W)``: ``X @ W`` for ``W`` of shape (n,) or (n, k), differentiable in ``W``
  (``jax.grad`` gives ``X^T G``, computed by ``design.rmatmul``);
- ``design.rmatmul(R)``: ``X^T @ R`` for ``R`` (m,) or (m, k);
- ``design.gram(D)``: ``X^T diag(d) X`` for a weight column ``D`` (m,) or one per lane (m, K)
  -> (n, n) or (K, n, n): Newton's Hessian is ``J^T (d^2 loss / dz^2) J`` with ``J = X``;
- ``design.rows(idx)``: the rows ``idx`` (minibatches), as a design;
- ``shape``, ``dtype``, ``nbytes``.

``DenseDesign`` may carry a row-major copy of ``X^T``: on XLA:CPU, ``X^T R`` read from the copy
runs 2-7x faster than a dot contracting X's row axis (measured in ``bench/``), at the price of a
second copy of X in memory. ``linear`` then uses it for the backward product, and for one lane
the forward product too; a one-lane design may then hold the copy alone (``X`` is None), since
nothing reads X's rows (``dense(..., keep_rows=False)``).

``SparseDesign`` (``sparse.py``) offers the same operations for a sparse X.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


@partial(jax.tree_util.register_dataclass, data_fields=["X", "XT"], meta_fields=[])
@dataclasses.dataclass(frozen=True)
class DenseDesign:
    """A dense (m, n) matrix, optionally with its row-major transpose ``XT`` (n, m); ``X`` may be
    None when ``XT`` is there (one-lane fits: the products read only ``XT``; what needs rows
    transposes it back, correct but slower)."""

    X: jax.Array | None
    XT: jax.Array | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.X.shape if self.X is not None else self.XT.shape[::-1]

    @property
    def dtype(self):
        return (self.X if self.X is not None else self.XT).dtype

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.X, self.XT) if a is not None)

    @property
    def row_major(self) -> jax.Array:
        """X itself: the array, or the transpose of ``XT`` when only that is kept."""
        return self.X if self.X is not None else self.XT.T

    @property
    def has_fast_transpose(self) -> bool:
        return self.XT is not None

    def matmul(self, W: jax.Array) -> jax.Array:
        if self.XT is not None and (self.X is None or W.ndim == 2 and W.shape[1] <= FORWARD_FROM_XT_MAX_LANES):
            return (W.T @ self.XT).T  # a row-major GEMV over X^T: 1.97 vs 2.9 ms on 100,000 x 100 (2 lanes: slower)
        if W.ndim == 2 and W.shape[1] == 1:
            return (self.X @ W[:, 0])[:, None]  # a vector: its autodiff transpose stays a GEMV
        return self.X @ W

    def rmatmul(self, R: jax.Array) -> jax.Array:
        if self.XT is not None:
            return self.XT @ R
        if R.ndim == 2 and R.shape[1] == 1:
            return (R[:, 0] @ self.X)[:, None]  # XLA:CPU's (m, n)^T @ (m, 1) took 46 ms, this 5
        return self.X.T @ R

    def gram(self, D: jax.Array) -> jax.Array:
        X = self.row_major

        def weighted(d):
            return (X * d[:, None]).T @ X

        if D.ndim == 1:
            return weighted(D)
        if D.shape[1] < PAIRWISE_MIN_WEIGHTS:  # a few weight columns: one weighted GEMM each
            return jax.vmap(weighted, in_axes=1)(D)
        return pairwise_gram(X, D)

    def rows(self, idx: jax.Array) -> "DenseDesign":
        return DenseDesign(self.row_major[idx])

    def __matmul__(self, W: jax.Array) -> jax.Array:
        return linear(self, W)

    def __getitem__(self, idx) -> "DenseDesign":
        return self.rows(idx)


GRAM_BLOCK = 256  # rows per block of the pairwise products (a block stays in cache)
# Forming the pairwise products costs about as much as 3-4 weighted GEMMs (bench/README.md,
# 2026-12-06: m = 20,480, n = 64 float32: pairwise 7.4 ms for 4 weight columns, 8.4 ms for 8,
# weighted GEMMs 6.7 ms for 4, 26 ms for 8), so fewer columns take the GEMMs.
PAIRWISE_MIN_WEIGHTS = 4


def packed_triangle(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``rows, cols``: the upper triangle ``a <= b`` of an n x n matrix in ``np.triu_indices``
    order, and ``position`` (n, n): where each entry of a symmetric matrix sits in that packed
    order (``packed[..., position]`` unpacks it with a gather)."""
    rows, cols = np.triu_indices(n)
    position = np.zeros((n, n), np.int32)
    position[rows, cols] = position[cols, rows] = np.arange(len(rows))
    return rows, cols, position


def pairwise_gram(X: jax.Array, D: jax.Array, ones: bool = False) -> jax.Array:
    """``H[k] = X^T diag(D[:, k]) X`` for every column k of D (m, K): (K, n, n); with ``ones``,
    of ``[X, 1]`` (K, n + 1, n + 1), the column of ones joining the pairs (no assembly after).

    As one matrix product ``P^T D`` where column i of ``P^T`` holds the pairwise products
    ``x_a x_b`` (a <= b) of row i of X, formed from whole rows of ``X^T`` block by block so P
    never exists whole: every lane's Gram matrix comes out of one large GEMM
    (n(n+1)/2 x m x K), instead of K products that each read a weighted copy of X (7x faster at
    m = 20,480, n = 64, K = 32 float32).
    """
    m, n = X.shape
    K = D.shape[1]
    XT = X.T  # one copy per Hessian: a block's pairs are then products of whole rows
    if ones:
        XT, n = jnp.concatenate([XT, jnp.ones((1, m), X.dtype)]), n + 1
    rows, cols, position = packed_triangle(n)
    blocks, rest = divmod(m, GRAM_BLOCK)

    def pairs(xt):  # (n(n+1)/2, rows of the block)
        return xt[rows] * xt[cols]

    def body(i, acc):
        xt = jax.lax.dynamic_slice_in_dim(XT, i * GRAM_BLOCK, GRAM_BLOCK, axis=1)
        d = jax.lax.dynamic_slice_in_dim(D, i * GRAM_BLOCK, GRAM_BLOCK)
        return acc + pairs(xt) @ d

    if blocks < 2:  # small X: P whole
        upper = pairs(XT) @ D
    else:
        upper = jax.lax.fori_loop(0, blocks, body, jnp.zeros((len(rows), K), X.dtype))
        if rest:
            upper = upper + pairs(XT[:, blocks * GRAM_BLOCK:]) @ D[blocks * GRAM_BLOCK:]
    # each entry of the symmetric matrix read from its pair by a constant gather: XLA:CPU expands
    # a scatter into the triangle into a loop of one element per step (~4 us each, 2 ms at n = 32)
    return jnp.moveaxis(upper[position], 2, 0)


def linear(design: Any, W: jax.Array) -> jax.Array:
    """``X @ W``; its reverse-mode derivative in ``W`` is ``design.rmatmul`` (so a design with
    a fast transpose is read row-major both ways). A dense X without one: plain autodiff (all
    modes); a sparse design's products carry their own rule (``sparse._product``)."""
    if not isinstance(design, DenseDesign) or not design.has_fast_transpose:
        return design.matmul(W)
    leaves, treedef = jax.tree_util.tree_flatten(design)
    return _linear(treedef, W, *leaves)


@partial(jax.custom_vjp, nondiff_argnums=(0,))
def _linear(treedef, W, *leaves):
    return jax.tree_util.tree_unflatten(treedef, leaves).matmul(W)


def _linear_fwd(treedef, W, *leaves):  # plain JAX inside: forward over reverse works
    return jax.tree_util.tree_unflatten(treedef, leaves).matmul(W), leaves


def _linear_bwd(treedef, leaves, g):
    return (jax.tree_util.tree_unflatten(treedef, leaves).rmatmul(g), *([None] * len(leaves)))


_linear.defvjp(_linear_fwd, _linear_bwd)


# On XLA:CPU (measured on 100,000 x 100 float32, bench/README.md): with one lane,
# ``X.T @ r`` for r of shape (m, 1) runs a 46 ms GEMM path where the vector form ``r @ X`` takes
# 5 ms; and ``(W.T @ XT).T`` reads the row-major copy faster than ``X @ W`` for one or two lanes.
FORWARD_FROM_XT_MAX_LANES = 1
TRANSPOSE_ROWS = 512  # rows per block of the host transpose: a block's columns stay in cache


def transposed(X: np.ndarray, copy: bool = False):
    """A row-major copy of ``X.T`` made on the host in row blocks by two threads (NumPy's copy
    releases the GIL). On the 2-core bench machine: 17-23 ms for 100,000 x 100 and 250,000 x 64
    float32, against 27-119 ms for ``np.ascontiguousarray(X.T)`` and 39-55 ms for a device
    transpose (which also costs a compiled program).

    ``copy=True`` returns ``(aligned copy of X, X.T)``, both made in the same blocks: each block
    is read from memory once and transposed from cache, and the copy (which ``to_device`` needs
    for a misaligned X) is split between the threads. 100,000 x 100 float32: 13-16 ms against
    17-21 ms for the copy and then the transpose (bench/README.md)."""
    m, n = X.shape
    out = aligned_zeros((n, m), X.dtype)  # so that ``to_device`` adopts it
    rows = aligned_zeros((m, n), X.dtype) if copy else None

    def work(lo: int, hi: int) -> None:
        for start in range(lo, hi, TRANSPOSE_ROWS):
            stop = min(start + TRANSPOSE_ROWS, hi)
            block = X[start:stop]
            if rows is not None:
                rows[start:stop] = block
                block = rows[start:stop]  # now in cache
            out[:, start:stop] = block.T

    on_two_threads(work, m, m * n >= 1 << 16)
    return (rows, out) if copy else out


def on_two_threads(work, m: int, split: bool = True) -> list:
    """``[work(0, m // 2), work(m // 2, m)]`` on two threads (``split``; else ``[work(0, m)]``
    here): host passes over X's rows whose NumPy calls release the GIL."""
    if not split:
        return [work(0, m)]
    cut = m // 2
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda bounds: work(*bounds), [(0, cut), (cut, m)]))


def dense(X: np.ndarray, transpose: bool = False, keep_rows: bool = True) -> DenseDesign:
    """A dense design from host data; ``transpose=True`` also makes a row-major ``X.T``
    (``transposed``), together with the aligned copy of X when ``to_device`` would make one.
    ``keep_rows=False`` (with ``transpose``) keeps the transposed copy alone: for one lane nothing
    reads X, and its copy was 8 of a 100,000 x 100 L-BFGS fit's ~55 ms (bench/README.md)."""
    X = np.asarray(X)
    if not transpose:
        return DenseDesign(to_device(X))
    if not keep_rows:
        return DenseDesign(None, to_device(transposed(X)))
    if _adopts(X):
        return DenseDesign(to_device(X), to_device(transposed(X)))
    aligned, XT = transposed(X, copy=True)
    return DenseDesign(to_device(aligned), to_device(XT))


HOST_ALIGNMENT = 64  # bytes: XLA:CPU adopts a host buffer aligned like this without copying it
ADOPT_MIN_BYTES = 1 << 20  # below this a copy costs nothing worth avoiding


def aligned_zeros(shape, dtype) -> np.ndarray:
    """Zeros in a host buffer aligned to ``HOST_ALIGNMENT`` bytes, which ``jax.device_put`` on
    the CPU adopts instead of copying (numpy's large arrays sit 16 bytes past a page)."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.zeros(size + HOST_ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % HOST_ALIGNMENT
    return raw[start:start + size].view(dtype).reshape(shape)


def to_device(X: np.ndarray) -> jax.Array:
    """Host data on the default device. On the CPU, ``jax.device_put`` copies a misaligned
    array at ~2 GB/s (19 ms for 100,000 x 100 float32, a third of a warm fit's fixed cost);
    copying it into an aligned buffer that XLA then adopts takes 3.9 ms (bench/README.md)."""
    X = np.asarray(X)
    if _adopts(X):
        return jax.device_put(X)
    adopted = aligned_zeros(X.shape, X.dtype)
    np.copyto(adopted, X)
    return jax.device_put(adopted)


def _adopts(X: np.ndarray) -> bool:
    """Whether ``to_device`` puts X on the device as it is (no aligned copy first)."""
    return jax.default_backend() != "cpu" or X.nbytes < ADOPT_MIN_BYTES or (
        X.flags.c_contiguous and X.ctypes.data % HOST_ALIGNMENT == 0)


__all__ = ["DenseDesign", "linear", "dense", "packed_triangle", "pairwise_gram", "to_device", "aligned_zeros",
           "on_two_threads"]
