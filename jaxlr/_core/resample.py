"""Resampling weights drawn inside the compiled program, one vector per lane.

The resampling methods (``jaxlr.bootstrap``, ``jaxlr.stability_selection``) train each lane on
the data's weights times a per-lane *multiplier* of the rows, drawn here from the lane's seed,
so no ``(n_lanes, n_samples)`` weight matrix is ever held on the host or the device beyond the
``(n_samples, chunk)`` block a chunk of lanes trains on. A lane's mode (carried in its ``fold``)
says which multiplier it trains on:

- ``ORIGINAL``: all ones (the fit on the data as given);
- ``BOOTSTRAP``: multinomial counts, ``n`` rows drawn with replacement (within each class when
  ``n_groups > 1``: stratified), as ``scipy.stats.bootstrap`` and Efron's bootstrap resample;
- ``JACKKNIFE``: ones with a zero at row ``seed`` (BCa's acceleration);
- ``SUBSAMPLE`` / ``COMPLEMENT``: a 0/1 mask of ``floor(fraction * n)`` rows drawn without
  replacement, and the next ``floor(fraction * n)`` rows of the same random order (disjoint from
  the first: Shah & Samworth's complementary pairs).

Every draw of row position ``j`` comes from ``fold_in(key(seed), j)``, so the multipliers of the
real rows do not depend on how many padding rows the program adds: ``multipliers`` evaluated
on the host on the unpadded data gives exactly what a lane trained on.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

ORIGINAL, BOOTSTRAP, JACKKNIFE, SUBSAMPLE, COMPLEMENT = range(5)
_TAG = 0x5EED  # separates the resampling stream from the minibatch order's (same seed)


class Resample(NamedTuple):
    """Compile-time facts of in-program resampling: the modes the lanes use (only those are
    computed), the number of strata (1: none; the number of classes: stratified bootstrap), and
    the subsample fraction."""

    modes: tuple = (ORIGINAL, BOOTSTRAP)
    n_groups: int = 1
    fraction: float = 0.5


def _key(seed):
    return jax.random.fold_in(jax.random.key(seed), _TAG)


def _per_row(key, m, draw):
    return jax.vmap(lambda j: draw(jax.random.fold_in(key, j)))(jnp.arange(m))


def _strata(y, n_rows, m, n_groups):
    """Real rows grouped by stratum (stable: by index within one), padding last; for each sorted
    position its stratum's size and first position."""
    real = jnp.arange(m) < n_rows
    codes = jnp.where(real, y.astype(jnp.int32) if n_groups > 1 else 0, n_groups)
    order = jnp.argsort(codes, stable=True)
    size = jnp.bincount(codes, length=n_groups + 1)
    start = jnp.cumsum(size) - size
    c = codes[order]
    return order, size[c], start[c], real[order]


def _bootstrap(seed, strata, m, dtype):
    order, size, start, real = strata
    key = _key(seed)
    draw = jax.vmap(lambda j, n: jax.random.randint(jax.random.fold_in(key, j), (), 0, jnp.maximum(n, 1)))(
        jnp.arange(m), size)
    return jnp.zeros(m, dtype).at[order[start + draw]].add(real.astype(dtype))


def _ranks(seed, n_rows, m):
    """Each row's place in a random order of the real rows (padding rows last)."""
    bits = _per_row(_key(seed), m, lambda k: jax.random.bits(k, (), jnp.uint32))
    bits = jnp.where(jnp.arange(m) < n_rows, bits, jnp.array(jnp.iinfo(jnp.uint32).max, jnp.uint32))
    order = jnp.argsort(bits, stable=True)
    return jnp.zeros(m, jnp.int32).at[order].set(jnp.arange(m, dtype=jnp.int32))


def multipliers(resample: Resample, seed, mode, y, n_rows, m: int, dtype):
    """(m, K) row multipliers of K lanes (``seed``, ``mode`` each (K,)); ``y`` the (padded)
    labels as class codes, ``n_rows`` the real rows (the rest padding, multiplier irrelevant)."""
    strata = _strata(y, n_rows, m, resample.n_groups) if BOOTSTRAP in resample.modes else None
    size = jnp.floor(resample.fraction * n_rows).astype(jnp.int32)

    def lane(s, md):
        out = jnp.ones(m, dtype)
        if BOOTSTRAP in resample.modes:
            out = jnp.where(md == BOOTSTRAP, _bootstrap(s, strata, m, dtype), out)
        if JACKKNIFE in resample.modes:
            out = jnp.where(md == JACKKNIFE, (jnp.arange(m) != s.astype(jnp.int32)).astype(dtype), out)
        if SUBSAMPLE in resample.modes or COMPLEMENT in resample.modes:
            rank = _ranks(s, n_rows, m)
            first = jnp.where(md == COMPLEMENT, size, 0)
            out = jnp.where((md == SUBSAMPLE) | (md == COMPLEMENT),
                            ((rank >= first) & (rank < first + size)).astype(dtype), out)
        return out

    return jax.vmap(lane, out_axes=1)(seed, mode)


__all__ = ["Resample", "multipliers", "ORIGINAL", "BOOTSTRAP", "JACKKNIFE", "SUBSAMPLE", "COMPLEMENT"]
