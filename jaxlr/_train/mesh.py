"""Placing a fit or a sweep on a device mesh, with JAX's own sharding (public as ``jaxlr.sharding``).

A mesh (``jax.sharding.Mesh``) has axes named ``"models"`` and/or ``"data"``. A sweep's
models axis (its lanes) is split over ``"models"``; the rows of X, y and the sample
weights are split over ``"data"``. The arrays are placed with ``NamedSharding`` and the
same jitted programs run on them: XLA's partitioner splits the work and inserts the
reductions over ``"data"`` (the weighted mean in the objective, hence the gradients).

Shapes that do not divide the mesh are padded: rows with zero sample weight (a zero
weight contributes exactly nothing to ``sum_i s_i loss_i / sum_i s_i``), lanes by
repeating the last lane, and the padding is cut off the results.

Placement goes through ``jax.make_array_from_callback``, so the same code runs in one
process or in many (``jaxlr.distributed``), where every process passes the same host data.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

MODELS, DATA = "models", "data"
AXES = (MODELS, DATA)


def check_mesh(mesh: Any) -> Mesh:
    """``mesh`` as a ``Mesh`` whose axes are named "models" and/or "data" (Auto axis types,
    so XLA propagates the shardings; a mesh from ``jax.make_mesh`` has Explicit axes)."""
    if not isinstance(mesh, Mesh):
        raise TypeError(f"mesh must be a jax.sharding.Mesh, got {type(mesh).__name__}")
    names = tuple(mesh.axis_names)
    unknown = [n for n in names if n not in AXES]
    if not names or unknown or len(set(names)) != len(names):
        raise ValueError(f"mesh axes must be named 'models' and/or 'data', got {names}")
    if any(t != AxisType.Auto for t in getattr(mesh, "axis_types", ()) or ()):
        mesh = Mesh(mesh.devices, names, axis_types=(AxisType.Auto,) * len(names))
    return mesh


def make_mesh(models: int = 1, data: int = 1, devices=None) -> Mesh:
    """A ``models x data`` mesh over ``devices`` (default: all of ``jax.devices()``, i.e. of
    every process). One of the sizes may be ``-1``: all remaining devices."""
    devices = list(jax.devices() if devices is None else devices)
    for name, size in ((MODELS, models), (DATA, data)):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or (size < 1 and size != -1):
            raise ValueError(f"mesh size for {name!r} must be a positive int or -1, got {size!r}")
    if models == -1 and data == -1:
        raise ValueError("mesh: at most one of models, data may be -1")
    if models == -1:
        models = max(1, len(devices) // data)
    if data == -1:
        data = max(1, len(devices) // models)
    if models * data > len(devices):
        raise ValueError(f"mesh {models}x{data} needs {models * data} devices, {len(devices)} available")
    grid = np.asarray(devices[: models * data], dtype=object).reshape(models, data)
    return Mesh(grid, AXES, axis_types=(AxisType.Auto,) * 2)


def axis_size(mesh: Mesh, name: str) -> int:
    """Devices along axis ``name`` (1 when the mesh has no such axis)."""
    return int(mesh.shape[name]) if name in mesh.axis_names else 1


def spec(mesh: Mesh, *dims) -> PartitionSpec:
    """A PartitionSpec naming only axes the mesh has (others become unsplit, ``None``)."""
    def keep(d):
        if d is None:
            return None
        names = tuple(n for n in (d if isinstance(d, tuple) else (d,)) if n in mesh.axis_names)
        return names[0] if len(names) == 1 else (names or None)

    return PartitionSpec(*(keep(d) for d in dims))


def put(x, mesh: Mesh, partition: PartitionSpec) -> jax.Array:
    """Host (or single-device) data ``x`` as a global array laid out as ``partition`` on
    ``mesh``; every process must pass the same ``x``. PRNG key arrays are supported."""
    if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        raw = jax.random.key_data(x)
        data = put(raw, mesh, PartitionSpec(*partition, *([None] * (raw.ndim - x.ndim))))
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
    arr = np.asarray(x)
    return jax.make_array_from_callback(arr.shape, NamedSharding(mesh, partition), lambda idx: arr[idx])


def put_tree(tree, mesh: Mesh, partition: PartitionSpec):
    """``put`` every leaf of ``tree`` with the same leading-axis ``partition``."""
    return jax.tree_util.tree_map(lambda a: put(a, mesh, partition), tree)


def replicate(tree, mesh: Mesh):
    """Every leaf of ``tree`` copied to all devices of ``mesh``."""
    return put_tree(tree, mesh, PartitionSpec())


def to_host(x) -> np.ndarray:
    """``x`` as a NumPy array on this host, gathering shards held by other processes."""
    if not isinstance(x, jax.Array) or x.is_fully_addressable or x.is_fully_replicated:
        return np.asarray(x)
    from jax.experimental import multihost_utils  # only needed with several processes

    return np.asarray(multihost_utils.process_allgather(x, tiled=True))


__all__ = ["MODELS", "DATA", "AXES", "check_mesh", "make_mesh", "axis_size", "spec", "put", "put_tree", "replicate",
           "to_host"]
