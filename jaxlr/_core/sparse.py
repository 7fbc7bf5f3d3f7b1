"""A sparse design matrix: the products of ``design.DenseDesign`` without densifying X.

``SparseDesign`` holds a sparse X (built by ``sparse`` from a validated scipy CSR matrix; no
dense copy is ever made) in a *chunked* layout chosen from measurements (``bench/sparse.py``,
``bench/README.md``): each row's non-zeros are cut into chunks of a fixed width ``c``
(zero-padded), stored as two dense (C, c) arrays ``data`` and ``index`` plus the row of each
chunk. ``X @ W`` is then a gather ``W[index]`` (rows of W for K lanes: contiguous), a
multiply-sum over the chunk width and, when a row spans several chunks, a sorted
``segment_sum`` of the C chunk sums into rows; ``c`` is picked per matrix from its row lengths
(one chunk per row, i.e. ELL, when the rows are short and even). ``X^T @ R`` uses the same
layout built from the columns (a CSC copy, ``transpose=True``), so neither product scatters.
On CPU the chunks are processed in blocks (``lax.map``) of at most ``2**20`` gathered values,
which bounds the temporaries of K-lane products: unblocked, a 16-lane product on 2M non-zeros
materializes 128 MB of gathered rows and ran 4-8x slower than in blocks (bench/README.md).
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .design import aligned_zeros, linear, to_device

BLOCK_ELEMENTS = {"cpu": 1 << 20}  # gathered values per block by backend; absent: one block
SEGMENT_COST = 2.0  # cost of one chunk's segment_sum entry, in gathered values (bench/sparse.py)
WIDTHS = (4, 8, 16, 32, 64, 128)  # chunk widths tried when rows are too uneven for one chunk each
MAX_ELL = 256  # rows up to this long may be one chunk each
GRAM_ELEMENTS = 1 << 22  # (rows x lanes x columns) per block of ``gram``'s dense temporaries


@partial(jax.tree_util.register_dataclass, data_fields=["data", "index", "segment"],
         meta_fields=["n_out", "block"])
@dataclasses.dataclass(frozen=True)
class Chunks:
    """A sparse (n_out, n_in) operator in chunks of fixed width: chunk ``k`` holds the values
    ``data[k]`` at input positions ``index[k]`` of output row ``segment[k]`` (row ``k`` when
    ``segment`` is None: one chunk per row, i.e. ELL). Padding is value 0 at position 0."""

    data: jax.Array  # (C, c) float
    index: jax.Array  # (C, c) int32
    segment: jax.Array | None  # (C,) int32, sorted; None: chunk k is row k (C >= n_out)
    n_out: int
    block: int  # gathered values per block (0: all chunks at once)


def _block_size(n_chunks: int, width: int, block: int) -> int:
    """Chunks per block: the largest power of 2 dividing ``n_chunks`` with at most ``block``
    gathered values (``width`` = chunk width x lanes); all chunks when ``block`` is 0."""
    if not block or n_chunks * width <= block:
        return n_chunks
    size = 1
    while size * 2 * width <= block and n_chunks % (size * 2) == 0:
        size *= 2
    return size


def _chunk_sums(data, index, V):
    gathered = jnp.asarray(V).at[index].get(mode="promise_in_bounds")  # (b, c) or (b, c, k): rows of V
    if V.ndim == 1:
        return jnp.sum(data * gathered, axis=-1)
    return jnp.sum(data[..., None] * gathered, axis=-2)


def _apply(ch: Chunks, V: jax.Array) -> jax.Array:
    """``A @ V`` for the operator ``ch`` and V (n_in,) or (n_in, k); plain JAX, so every
    transformation (vmap, jvp, transpose) works on it."""
    if V.ndim == 2 and V.shape[1] == 1:  # one lane as a vector: a (b, c, 1) gather ran 3-4x slower
        return _apply(ch, V[:, 0])[:, None]
    n_chunks, width = ch.data.shape
    size = _block_size(n_chunks, width * (1 if V.ndim == 1 else V.shape[1]), ch.block)
    if size >= n_chunks:
        sums = _chunk_sums(ch.data, ch.index, V)
    else:  # blocks small enough for the gathered values to stay in cache
        blocks = n_chunks // size
        sums = jax.lax.map(lambda b: _chunk_sums(b[0], b[1], V),
                           (ch.data.reshape(blocks, size, width), ch.index.reshape(blocks, size, width)))
        sums = sums.reshape(n_chunks, *V.shape[1:])
    if ch.segment is None:
        return sums[: ch.n_out]
    return jax.ops.segment_sum(sums, ch.segment, ch.n_out, indices_are_sorted=True)


@jax.custom_batching.custom_vmap
def _apply_lanes(ch: Chunks, V: jax.Array) -> jax.Array:
    """``_apply`` whose ``vmap`` over V is one product with the lanes last: ``A @ V`` with V
    (n_in, lanes), so each gathered index reads a contiguous row of V."""
    return _apply(ch, V)


@_apply_lanes.def_vmap
def _apply_lanes_rule(axis_size, in_batched, ch, V):
    ch_batched, v_batched = in_batched
    if any(jax.tree_util.tree_leaves(ch_batched)):  # a batch of operators: one product each
        axes = jax.tree_util.tree_map(lambda b: 0 if b else None, ch_batched)
        return jax.vmap(_apply, in_axes=(axes, 0 if v_batched else None))(ch, V), True
    if not v_batched:
        return _apply(ch, V), False
    lanes_last = jnp.moveaxis(V, 0, -1)  # (n_in, B) or (n_in, k, B)
    out = _apply_lanes(ch, lanes_last.reshape(lanes_last.shape[0], -1))
    return jnp.moveaxis(out.reshape(ch.n_out, *lanes_last.shape[1:]), -1, 0), True


def _scatter_transpose(A: Chunks, G: jax.Array, n_in: int) -> jax.Array:
    """``A^T @ G`` (n_in,) or (n_in, k): each chunk's values times its row of G, scatter-added
    into the chunk's input positions, in ``_apply``'s blocks. Written out rather than left to
    ``jax.linear_transpose`` of ``_apply``, whose transposed ``lax.map`` first stacks every
    block's gather indices: a copy of the index array per product."""
    if G.ndim == 2 and G.shape[1] == 1:
        return _scatter_transpose(A, G[:, 0], n_in)[:, None]
    n_chunks, width = A.data.shape
    if A.segment is None:  # chunk k is row k; the chunks past n_out are empty
        rows = jnp.concatenate([G, jnp.zeros((n_chunks - G.shape[0], *G.shape[1:]), G.dtype)])
    else:
        rows = jnp.asarray(G).at[A.segment].get(mode="promise_in_bounds")

    def add(out, data, index, rows):
        values = data * rows[:, None] if G.ndim == 1 else data[..., None] * rows[:, None, :]
        return out.at[index].add(values, mode="promise_in_bounds")

    out = jnp.zeros((n_in, *G.shape[1:]), G.dtype)
    size = _block_size(n_chunks, width * (1 if G.ndim == 1 else G.shape[1]), A.block)
    if size >= n_chunks:
        return add(out, A.data, A.index, rows)

    def block(b, out):
        take = partial(jax.lax.dynamic_slice_in_dim, start_index=b * size, slice_size=size, axis=0)
        return add(out, take(A.data), take(A.index), take(rows))

    return jax.lax.fori_loop(0, n_chunks // size, block, out)


@partial(jax.custom_vjp, nondiff_argnums=(3,))
def _product(A: Chunks, AT: Chunks | None, V: jax.Array, n_in: int) -> jax.Array:
    """``A @ V`` whose reverse-mode derivative is ``AT @ G`` (no scatter either way), or without
    ``AT`` the scatter-add transpose. A custom rule either way: autodiff of the blocked
    ``lax.map`` would save every block's gather indices as residuals, a copy of the whole index
    array per evaluation (~2.5 ms of a 16 ms L-BFGS step on 2.5M non-zeros, bench/README.md)."""
    return _apply_lanes(A, V)


def _product_fwd(A, AT, V, n_in):
    # without AT, no lanes-last rule: custom_vmap refuses the jvp of jax.hessian's forward over
    # reverse when the chunks have no segments (jax issue 9066)
    return (_apply(A, V) if AT is None else _apply_lanes(A, V)), (A, AT)


def _product_bwd(n_in, res, g):
    A, AT = res
    if AT is None:
        return None, None, _scatter_transpose(A, g, n_in)
    return None, None, _apply_lanes(AT, g)


_product.defvjp(_product_fwd, _product_bwd)


@partial(jax.tree_util.register_dataclass, data_fields=["fwd", "bwd", "row_start"],
         meta_fields=["shape", "max_chunks"])
@dataclasses.dataclass(frozen=True)
class SparseDesign:
    """A sparse (m, n) matrix: ``fwd`` the chunked rows (for ``X @ W``), ``bwd`` optionally the
    chunked columns (``X^T @ R`` without scattering), ``row_start`` (m + 1,) the first chunk of
    each row (for ``rows``; None with one chunk per row). Never densified."""

    fwd: Chunks
    bwd: Chunks | None
    row_start: jax.Array | None
    shape: tuple[int, int]
    max_chunks: int  # most chunks of one row

    @property
    def dtype(self):
        return self.fwd.data.dtype

    @property
    def nbytes(self) -> int:
        return sum(int(a.nbytes) for a in jax.tree_util.tree_leaves(self))

    @property
    def has_fast_transpose(self) -> bool:
        return self.bwd is not None

    @property
    def nnz(self) -> int:
        """Stored entries of the rows' chunks (padding included): what one product gathers."""
        return int(np.prod(self.fwd.data.shape[-2:]))

    def matmul(self, W: jax.Array) -> jax.Array:
        return _product(self.fwd, self.bwd, W, self.shape[1])

    def rmatmul(self, R: jax.Array) -> jax.Array:
        if self.bwd is not None:
            return _product(self.bwd, self.fwd, R, self.shape[0])
        return _scatter_transpose(self.fwd, R, self.shape[1])

    def gram(self, D: jax.Array) -> jax.Array:
        """``X^T diag(d) X`` (n, n) for D (m,), or (K, n, n) for D (m, K): column blocks
        ``H[:, J] = X^T (d * X[:, J])`` from the two products, with (m, K, |J|) dense
        temporaries of at most ``GRAM_ELEMENTS`` values (the cost is 2 nnz n per lane)."""
        m, n = self.shape
        lanes = D if D.ndim == 2 else D[:, None]
        k = lanes.shape[1]
        width = int(max(1, min(n, GRAM_ELEMENTS // max(1, m * k))))
        blocks = -(-n // width)
        cols = jnp.arange(n)

        def block(start):
            pick = (cols[:, None] == start + jnp.arange(width)[None, :]).astype(self.dtype)  # (n, width)
            XJ = self.matmul(pick)  # (m, width): columns J of X, dense
            R = (lanes[:, :, None] * XJ[:, None, :]).reshape(m, k * width)
            return self.rmatmul(R).reshape(n, k, width)

        parts = jax.lax.map(block, jnp.arange(blocks) * width)  # (blocks, n, k, width)
        H = jnp.moveaxis(parts, 2, 0).transpose(0, 2, 1, 3).reshape(k, n, blocks * width)[:, :, :n]
        return H if D.ndim == 2 else H[0]

    def rows(self, idx) -> "SparseDesign":
        """The rows ``idx`` (a minibatch) as a one-chunk-per-row design without a transpose
        (its backward product is XLA's scatter, cheap at minibatch sizes)."""
        idx = jnp.asarray(idx)
        fwd = self.fwd
        if fwd.segment is None:
            data, index = fwd.data[idx], fwd.index[idx]
        else:
            start = self.row_start[idx]
            count = self.row_start[idx + 1] - start
            slots = jnp.arange(self.max_chunks)
            valid = slots[None, :] < count[:, None]
            ids = jnp.where(valid, start[:, None] + slots[None, :], 0)
            data = jnp.where(valid[..., None], fwd.data[ids], 0).reshape(idx.shape[0], -1)
            index = jnp.where(valid[..., None], fwd.index[ids], 0).reshape(idx.shape[0], -1)
        chunks = Chunks(data, index, None, int(idx.shape[0]), 0)  # a minibatch: one block
        return SparseDesign(chunks, None, None, (int(idx.shape[0]), self.shape[1]), 1)

    def pad(self, rows: int, cols: int) -> "SparseDesign":
        """The same matrix as (rows, cols): the new rows and columns hold no entries."""
        m, n = self.shape
        if rows < m or cols < n:
            raise ValueError(f"pad: ({rows}, {cols}) is smaller than the design's shape {self.shape}")
        row_start = self.row_start
        if row_start is not None:
            row_start = jnp.concatenate([row_start, jnp.repeat(row_start[-1:], rows - m)])
        bwd = None if self.bwd is None else _grow(self.bwd, cols)
        return SparseDesign(_grow(self.fwd, rows), bwd, row_start, (int(rows), int(cols)), self.max_chunks)

    def __matmul__(self, W: jax.Array) -> jax.Array:
        return linear(self, W)

    def __getitem__(self, idx) -> "SparseDesign":
        return self.rows(idx)


def _grow(ch: Chunks, n_out: int) -> Chunks:
    """``ch`` with ``n_out`` output rows (the new ones empty)."""
    data, index = ch.data, ch.index
    if ch.segment is None and data.shape[0] < n_out:  # one chunk per row: add empty chunks
        extra = _padded_count(n_out) - data.shape[0]
        data = jnp.concatenate([data, jnp.zeros((extra, data.shape[1]), data.dtype)])
        index = jnp.concatenate([index, jnp.zeros((extra, index.shape[1]), index.dtype)])
    return Chunks(data, index, ch.segment, int(n_out), ch.block)


def _padded_count(n_chunks: int) -> int:
    """``n_chunks`` rounded up to a multiple of a power of 2 (at most 1/8 of it, at most 8192)
    so that blocks of many sizes divide it; at most ~12% padding."""
    grain = 1
    while grain * 2 <= min(8192, n_chunks // 8):
        grain *= 2
    return max(1, -(-n_chunks // grain) * grain)


def chunk_width(lengths: np.ndarray) -> int | None:
    """The chunk width for rows of these lengths: None for one chunk per row (ELL, width the
    longest row), else the width in ``WIDTHS`` with the least work, counted as gathered
    values (padding included) plus ``SEGMENT_COST`` per chunk for its ``segment_sum``."""
    longest = int(lengths.max(initial=0))
    best, best_cost = None, float("inf")
    if longest <= MAX_ELL:
        best_cost = len(lengths) * max(longest, 1)
    for width in WIDTHS:
        n_chunks = int(np.sum(-(-lengths // width)))
        cost = n_chunks * (width + SEGMENT_COST)
        if cost < best_cost:
            best, best_cost = width, cost
    return best


def _chunks(indptr, indices, data, n_out: int, block: int, width=None):
    """The chunked operator of a CSR (n_out rows) on the host, each row's first chunk and the
    most chunks of one row. ``width``: None picks one (``chunk_width``), "ell" one chunk per
    row, an int that chunk width."""
    lengths = np.diff(indptr)
    if width is None:
        width = chunk_width(lengths) or "ell"
    if width == "ell":
        width = max(1, int(lengths.max(initial=0)))
        per_row = np.ones(n_out, np.int64)
    else:
        width = int(width)
        per_row = -(-lengths // width)
    first = np.zeros(n_out + 1, np.int64)
    np.cumsum(per_row, out=first[1:])
    n_real = int(first[-1])
    one_per_row = bool(np.all(per_row == 1))
    row_of_chunk = None
    if one_per_row:
        filled = lengths
    else:  # chunk j of row r holds min(width, L_r - j * width) entries
        row_of_chunk = np.repeat(np.arange(n_out, dtype=np.int32), per_row)
        j = np.arange(n_real, dtype=np.int64) - first[:-1][row_of_chunk]
        filled = np.minimum(width, lengths[row_of_chunk] - j * width)
        del j
    n_chunks = _padded_count(max(n_real, 1))
    # CSR order is row by row, chunk by chunk, slot by slot: a boolean mask of the filled slots
    # places every entry without an index array as long as the data
    mask = np.zeros((n_chunks, width), bool)
    mask[:n_real] = np.arange(width)[None, :] < np.asarray(filled)[:, None]
    out_data = aligned_zeros((n_chunks, width), data.dtype)
    out_data[mask] = data
    out_index = aligned_zeros((n_chunks, width), np.int32)
    out_index[mask] = indices
    del mask
    segment = None
    if not one_per_row:
        segment = aligned_zeros((n_chunks,), np.int32)
        segment[:] = max(n_out - 1, 0)
        segment[:n_real] = row_of_chunk
        segment = to_device(segment)
    chunks = Chunks(to_device(out_data), to_device(out_index), segment, int(n_out), block)
    return chunks, first, int(per_row.max(initial=1))


def _backend_block(block):
    if block is not None:
        return int(block)
    return BLOCK_ELEMENTS.get(jax.default_backend(), 0)


def sparse(X, transpose: bool = False, *, block: int | None = None, width=None) -> SparseDesign:
    """A sparse design from a validated scipy CSR matrix (canonical: sorted, no duplicates).

    ``transpose=True`` also builds the chunked columns (from a CSC copy on the host), so that
    ``X^T @ R`` gathers instead of scattering: twice the memory of the sparse X, like the
    dense design's ``XT``. ``block`` (gathered values per block; default by backend) and
    ``width`` (of the chunks of rows and columns: None picks one for each, "ell" one chunk per
    row) are for measurements."""
    import scipy.sparse

    m, n = X.shape
    if max(m, n, X.nnz) >= 2**31:
        raise ValueError(f"X: sparse matrices need fewer than 2**31 rows, columns and non-zeros, got {X.shape} "
                         f"with {X.nnz} non-zeros")
    block = _backend_block(block)
    csr = scipy.sparse.csr_matrix(X)

    def columns():
        csc = csr.tocsc()
        return _chunks(csc.indptr, csc.indices, csc.data, n, block, width)[0]

    # the columns in a second thread (scipy's CSC conversion and numpy's copies release the GIL):
    # on 10M non-zeros the CSC conversion alone is ~130 ms
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(columns) if transpose else None
        fwd, first, max_chunks = _chunks(csr.indptr, csr.indices, csr.data, m, block, width)
        bwd = pending.result() if pending else None
    row_start = None if fwd.segment is None else jnp.asarray(first.astype(np.int32))
    return SparseDesign(fwd, bwd, row_start, (int(m), int(n)), max_chunks)


__all__ = ["Chunks", "SparseDesign", "sparse", "chunk_width"]
