"""Multi-host: two processes on 127.0.0.1 (coordinator + worker) agree with one process.

Each child process has one CPU device; ``jaxlr.distributed.initialize`` joins them into a
job of two devices (cross-process collectives on CPU go through Gloo). A sweep with its
models split over the two processes, a sweep with its rows split, and a fit with its rows
split must equal the single-process run in float64.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import jaxlr
from jaxlr import distributed

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    r"""
    import json, sys, warnings
    import jax
    jax.config.update("jax_enable_x64", True)
    from jaxlr import distributed, sharding
    distributed.initialize(f"127.0.0.1:{sys.argv[2]}", 2, int(sys.argv[1]), initialization_timeout=60)
    import numpy as np
    import jaxlr
    warnings.simplefilter("ignore")
    X, y = (np.asarray(a) for a in json.loads(sys.argv[3]))
    out = {"process_count": jax.process_count(), "devices": len(jax.devices()),
           "local": len(jax.local_devices())}
    for name, shape in (("models", (2, 1)), ("rows", (1, 2))):
        r = jaxlr.sweep(X, y, solver="lbfgs", l2=[1e-3, 1e-2, 1e-1], steps=40,
                        mesh=sharding.make_mesh(*shape))
        out[name + "_local_shards"] = len(r.coef.addressable_shards)
        g = distributed.gather(r)
        out[name] = {k: getattr(g, k).tolist() for k in ("coef", "intercept", "objective", "status")}
        out[name + "_table_rows"] = len(g.rows())
    f = jaxlr.fit(X, y, solver="newton", l2=1e-2, mesh=sharding.make_mesh(1, 2))
    g = distributed.gather(f)
    out["fit"] = {"coef": g.coef.tolist(), "intercept": float(g.intercept)}
    out["main"] = distributed.is_main_process()
    print("JSON" + json.dumps(out), flush=True)
    distributed.shutdown()
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _problem():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((41, 3))  # odd rows: the "data" split pads one zero-weight row
    y = (X @ np.array([0.5, -1.0, 1.0]) + rng.standard_normal(41) > 0).astype(float)
    return X, y


def test_two_processes_agree_with_one():
    X, y = _problem()
    port = str(_free_port())
    data = json.dumps([X.tolist(), y.tolist()])
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu", XLA_FLAGS="")
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(pid), port, data], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for pid in (0, 1)]
    outs = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=240)
            assert p.returncode == 0, stderr[-3000:]
            outs.append(json.loads([ln for ln in stdout.splitlines() if ln.startswith("JSON")][-1][4:]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    ref = jaxlr.sweep(X, y, solver="lbfgs", l2=[1e-3, 1e-2, 1e-1], steps=40)
    ref_fit = jaxlr.fit(X, y, solver="newton", l2=1e-2)
    assert [out["main"] for out in outs] == [True, False]
    for out in outs:
        assert (out["process_count"], out["devices"], out["local"]) == (2, 2, 1)
        assert out["models_local_shards"] == 1  # each process computes only its own models
        assert out["models_table_rows"] == out["rows_table_rows"] == 3
        for name in ("models", "rows"):
            for key in ("coef", "intercept", "objective", "status"):
                np.testing.assert_allclose(out[name][key], np.asarray(getattr(ref, key)), rtol=0, atol=1e-9)
        np.testing.assert_allclose(out["fit"]["coef"], np.asarray(ref_fit.coef), rtol=0, atol=1e-9)
        np.testing.assert_allclose(out["fit"]["intercept"], float(ref_fit.intercept), rtol=0, atol=1e-9)


def _parse(argv):
    return distributed.add_distributed_arguments(argparse.ArgumentParser()).parse_args(argv)


def test_arguments_without_hosts_make_only_a_mesh():
    assert distributed.initialize_from_args(_parse([])) is None
    mesh = distributed.initialize_from_args(_parse(["--mesh", "1x1"]))
    assert dict(mesh.shape) == {"models": 1, "data": 1}
    assert dict(distributed.initialize_from_args(_parse(["--mesh=-1x1"])).shape)["models"] >= 1
    args = _parse(["--coordinator-address", "10.0.0.1:1234", "--num-processes", "4", "--process-id", "3"])
    assert (args.coordinator_address, args.num_processes, args.process_id) == ("10.0.0.1:1234", 4, 3)


@pytest.mark.parametrize("bad", ["2", "axb", "0x1", "-1x-1", "2x-3"])
def test_bad_mesh_argument_is_a_usage_error(bad, capsys):
    with pytest.raises(SystemExit) as err:
        _parse(["--mesh", bad])
    assert err.value.code == 2
    assert "--mesh" in capsys.readouterr().err


def test_incomplete_host_options_are_rejected_before_jax():
    with pytest.raises(ValueError, match="go together"):
        distributed.initialize_from_args(_parse(["--num-processes", "2"]))
    with pytest.raises(ValueError, match="go together"):
        distributed.initialize("127.0.0.1:1234", 2)
    with pytest.raises(ValueError, match="process_id"):
        distributed.initialize("127.0.0.1:1234", 2, 2)
    with pytest.raises(ValueError, match="host:port"):
        distributed.initialize("localhost", 2, 0)
