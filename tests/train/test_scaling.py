"""Column statistics for ``standardize`` and the scale check."""

import numpy as np
import pytest


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_moments_in_row_blocks_equal_numpys_weighted_moments(dtype):
    """Dense X's moments run in row blocks of one float64 buffer (``MOMENT_BLOCK_BYTES``): with
    many blocks, the last one partial, and columns far from zero (where a one-pass variance
    would cancel), they equal NumPy's weighted mean and standard deviation in float64; a
    constant column has a standard deviation of exactly 0."""
    from jaxlr._train.scaling import MOMENT_BLOCK_BYTES, column_moments

    rng = np.random.default_rng(0)
    m, n = 2_001, 300
    rows = MOMENT_BLOCK_BYTES // (8 * n)
    assert m // rows >= 10 and m % rows  # many blocks, the last one partial
    X = (rng.standard_normal((m, n)) * np.geomspace(1e-3, 1e3, n) + 1e4).astype(dtype)
    X[:, 7] = 3.0
    w = rng.random(m)
    mean, std = column_moments(X, w)
    X64 = X.astype(np.float64)
    want_mean = np.average(X64, axis=0, weights=w)
    want_std = np.sqrt(np.average((X64 - want_mean) ** 2, axis=0, weights=w))
    want_std[7] = 0.0  # exactly; NumPy's one pass leaves 4e-15
    np.testing.assert_allclose(mean, want_mean, rtol=1e-14)
    np.testing.assert_allclose(std, want_std, rtol=1e-9)
    assert std[7] == 0.0 and mean[7] == 3.0
