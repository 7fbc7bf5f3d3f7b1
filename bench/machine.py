"""The machine's own limits: dense matmul FLOP rate and read bandwidth, plus what it is."""

from __future__ import annotations

import os
import platform
import sys

import jax
import jax.numpy as jnp
import numpy as np

from .common import best_time


def matmul_flops(size: int, dtype) -> float:
    """FLOP/s of one ``size x size`` ``jnp.dot`` (2 n^3 flops)."""
    with jax.enable_x64(True):
        a = jnp.asarray(np.random.default_rng(0).standard_normal((size, size)), dtype)
        b = jnp.asarray(np.random.default_rng(1).standard_normal((size, size)), dtype)
        dot = jax.jit(jnp.dot)
        t = best_time(lambda: dot(a, b), repeat=5)
    return 2.0 * size**3 / t


def read_bandwidth(n_bytes: int) -> float:
    """Bytes/s of ``jnp.sum`` over a float32 array of ``n_bytes`` (one read of every byte)."""
    x = jnp.ones((n_bytes // 4,), jnp.float32) * 1.5
    total = jax.jit(jnp.sum)
    t = best_time(lambda: total(x), repeat=5)
    return x.nbytes / t


def limits(quick: bool, tiny: bool = False) -> dict:
    """Matmul FLOP rate (float32, float64) and read bandwidth, measured now."""
    size = 256 if tiny else 2048 if quick else 3072
    n_bytes = (16 if tiny else 256 if quick else 512) * 2**20
    return {
        "matmul_size": size,
        "matmul_f32_flops": matmul_flops(size, jnp.float32),
        "matmul_f64_flops": matmul_flops(size, jnp.float64),
        "bandwidth_bytes": n_bytes,
        "read_bw_Bps": read_bandwidth(n_bytes),
    }


def drift(start: dict, end: dict, threshold: float = 0.15) -> dict:
    """Relative change of each limit between the start and the end of the run."""
    keys = ("matmul_f32_flops", "matmul_f64_flops", "read_bw_Bps")
    changes = {k: end[k] / start[k] - 1.0 for k in keys}
    return {"changes": changes, "flagged": any(abs(v) > threshold for v in changes.values()),
            "threshold": threshold}


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> dict:
    """Devices, versions, CPU, core count."""
    import jaxlib
    import optax

    versions = {"python": sys.version.split()[0], "jax": jax.__version__, "jaxlib": jaxlib.__version__,
                "optax": optax.__version__, "numpy": np.__version__}
    try:
        import sklearn

        versions["scikit-learn"] = sklearn.__version__
    except ImportError:
        versions["scikit-learn"] = None
    try:
        import jaxlr

        versions["jaxlr"] = jaxlr.__version__
    except ImportError:
        pass
    return {
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "device_kinds": sorted({d.device_kind for d in jax.devices()}),
        "versions": versions,
    }
