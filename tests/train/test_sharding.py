"""Sharded fits and sweeps equal single-device ones (float64, 1e-9).

JAX fixes the number of CPU devices when it starts, so the checks run in one subprocess
with ``XLA_FLAGS=--xla_force_host_platform_device_count=4`` set before jax is imported;
it compares every case against the single-device run and reports JSON that the tests
below assert on. Rows (61), model counts (6) and chunk sizes (4 of 6) deliberately do not divide the mesh;
sweeps use gradient descent, L-BFGS (line search) with folds, Adam on minibatches; fits Newton.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
MESHES = ["4x1", "1x4", "2x2"]

SCRIPT = textwrap.dedent(
    r"""
    import json, warnings
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    import jaxlr
    from jaxlr import sharding
    from jaxlr.sharding import make_mesh

    warnings.simplefilter("ignore")
    assert len(jax.devices()) == 4, jax.devices()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((61, 3))
    y = (X @ np.array([1.0, -1.0, 0.5]) + rng.standard_normal(61) > 0).astype(float)
    X64, y64 = X[:64 - 3].copy(), y[:64 - 3].copy()
    Xb = rng.standard_normal((64, 3)); yb = (Xb[:, 0] + rng.standard_normal(64) > 0).astype(float)

    def diff(a, b):
        return max(float(np.max(np.abs(np.asarray(u) - np.asarray(v))))
                   for u, v in zip(a, b))

    def fields(r):
        return (r.coef, r.intercept, r.loss_history, r.objective, r.residual, r.n_iter, r.status)

    cases = {
        "gd6_chunked": dict(solver="gd", tol=None, steps=25, learning_rate=[0.1, 0.5, 1.0], l2=[1e-3, 1e-2],
                            chunk_size=4),
        "gd8": dict(solver="gd", tol=None, steps=25, learning_rate=[0.1, 0.3, 0.5, 1.0], l2=[1e-3, 1e-2]),
        "lbfgs_folds": dict(solver="lbfgs", steps=60, l2=[1e-3, 1e-2], folds=3),
    }
    out = {"sweep": {}, "fit": {}, "spec": {}, "shard_rows": {}}
    refs = {name: jaxlr.sweep(X, y, **kw) for name, kw in cases.items()}
    fit_ref = jaxlr.fit(X, y, solver="newton", l2=1e-2)
    mb_ref = jaxlr.sweep(Xb, yb, solver="adam", batch_size=16, steps=12, learning_rate=[0.05, 0.1], seeds=2)
    for shape in ["4x1", "1x4", "2x2"]:
        mesh = make_mesh(*map(int, shape.split("x")))
        for name, kw in cases.items():
            r = jaxlr.sweep(X, y, mesh=mesh, **kw)
            out["sweep"][f"{name}/{shape}"] = [len(r), diff(fields(r), fields(refs[name]))]
            out["spec"][f"{name}/{shape}"] = [list(r.coef.sharding.spec), list(r.loss_history.sharding.spec),
                                              sorted({s.data.shape[0] for s in r.coef.addressable_shards})]
        f = jaxlr.fit(X, y, solver="newton", l2=1e-2, mesh=mesh)
        out["fit"][shape] = diff(fields(f), fields(fit_ref))
        r = jaxlr.sweep(Xb, yb, solver="adam", batch_size=16, steps=12, learning_rate=[0.05, 0.1], seeds=2,
                        mesh=mesh)
        out["sweep"][f"minibatch/{shape}"] = [len(r), diff(fields(r), fields(mb_ref))]
        try:
            jaxlr.sweep(X, y, batch_size=8, steps=3, mesh=mesh)
            out.setdefault("minibatch_error", {})[shape] = None
        except ValueError as err:
            out.setdefault("minibatch_error", {})[shape] = str(err)

    # the host-stepped path (progress reports, as the CLI uses) on a 2x2 mesh
    calls = []
    r = jaxlr.sweep(X, y, mesh=make_mesh(2, 2), progress=lambda done, total: calls.append(done),
                    progress_every=10, **cases["gd8"])
    out["progress"] = [diff(fields(r), fields(refs["gd8"])), len(calls)]

    # XLA, not jaxlr, reduces over the rows: the 1x4 program holds an all-reduce, and X is split.
    from jaxlr._core import programs as _programs
    from jaxlr._core.engine import Lanes, Static
    from jaxlr._core.problem import Hyper
    from jaxlr._core.solvers import SOLVERS
    from jaxlr._train import chunks, layout
    mesh = make_mesh(1, 4)
    Xs = sharding.put(np.zeros((64, 3)), mesh, sharding.spec(mesh, "data", None))
    out["x_shard_rows"] = sorted({s.data.shape[0] for s in Xs.addressable_shards})
    prepared = layout.prepare(np.zeros((64, 3)), np.zeros(64), np.ones((1, 64)), transpose=True, mesh=mesh)
    lanes = Lanes(Hyper(*(np.full(2, v) for v in (0.1, 0.0, 0.0, 0.0))), np.zeros(2, np.uint32), np.zeros(2, np.int32))
    theta0 = np.zeros((prepared.design.shape[1] + 1, 2))
    static = Static(SOLVERS["gd"], None, 1)
    control = chunks.control(prepared, 3, 3, True, to_tolerance=False)
    args = (prepared.design, prepared.y, prepared.W, lanes, theta0)
    state = chunks.CACHE.state_template(*args, control, static)
    lanes, theta0, state = prepared.place((lanes, theta0, state))
    hlo = _programs.PROGRAMS["cpu"].lower(state, prepared.design, prepared.y, prepared.W, lanes, theta0, control,
                                        static).compile().as_text()
    out["all_reduce"] = "all-reduce" in hlo

    # the same shapes on the same mesh again: no new compilation
    traced = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, duration, fun_name=None, **_: traced.append(fun_name)
        if event == "/jax/core/compile/jaxpr_trace_duration" and fun_name == "run" else None)
    jaxlr.sweep(X, y, mesh=make_mesh(2, 2), **cases["gd8"])
    out["retraced"] = len(traced)

    # a mesh from jax.make_mesh (Explicit axes) works too
    explicit = jax.make_mesh((2, 2), ("models", "data"))
    r = jaxlr.sweep(X, y, mesh=explicit, **cases["gd8"])
    out["explicit"] = diff(fields(r), fields(refs["gd8"]))
    print("JSON" + json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def report():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", PYTHONPATH=str(ROOT),
               JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("JSON")][-1]
    return json.loads(line[4:])


@pytest.mark.parametrize("mesh", MESHES)
@pytest.mark.parametrize("case", ["gd6_chunked", "gd8", "lbfgs_folds", "minibatch"])
def test_sharded_sweep_equals_single_device(report, case, mesh):
    n_models, err = report["sweep"][f"{case}/{mesh}"]
    assert n_models == {"gd6_chunked": 6, "gd8": 8, "lbfgs_folds": 6, "minibatch": 4}[case]
    assert err <= 1e-9


@pytest.mark.parametrize("mesh", MESHES)
def test_sharded_fit_equals_single_device(report, mesh):
    assert report["fit"][mesh] <= 1e-9


@pytest.mark.parametrize("mesh", ["4x1", "2x2"])
def test_results_stay_sharded_over_models(report, mesh):
    coef_spec, history_spec, shard_sizes = report["spec"][f"gd8/{mesh}"]
    assert coef_spec == history_spec == ["models"]
    assert shard_sizes == [8 // int(mesh[0])]  # each device holds only its own models


def test_data_axis_splits_rows_and_xla_reduces(report):
    assert report["x_shard_rows"] == [16]
    assert report["all_reduce"] is True


def test_minibatch_rows_must_divide_the_data_axis(report):
    assert report["minibatch_error"]["4x1"] is None  # no "data" split: nothing to pad
    for mesh in ["1x4", "2x2"]:
        assert "batch_size" in report["minibatch_error"][mesh]


def test_explicit_mesh_from_make_mesh(report):
    assert report["explicit"] <= 1e-9


def test_padding_adds_zero_weight_rows():
    from jaxlr._train import layout

    X, y, W = np.ones((5, 2)), np.ones(5), np.ones((3, 5))
    Xp = layout._pad_matrix(X, 8, 2)
    yp, Wp = layout._padded_labels_and_weights(y, W, 8)
    assert Xp.shape == (8, 2) and yp.shape == (8,) and Wp.shape == (4, 8)  # folds to a power of two
    assert np.all(Wp[:3, 5:] == 0) and np.all(Wp[:3, :5] == 1) and np.all(Xp[5:] == 0) and np.all(yp[5:] == 0)
    assert layout._pad_matrix(X[:4], 4, 2).shape == (4, 2)


def test_bad_mesh_is_rejected_before_compiling():
    import jax
    from jax.sharding import Mesh

    import jaxlr
    from conftest import make_problem

    X, y = make_problem(m=20)
    with pytest.raises(TypeError, match="mesh"):
        jaxlr.sweep(X, y, steps=2, mesh="2x2")
    bad = Mesh(np.array(jax.devices()[:1]), ("batch",))
    with pytest.raises(ValueError, match="mesh"):
        jaxlr.fit(X, y, steps=2, mesh=bad)


def test_progress_path_on_a_mesh(report):
    err, n_calls = report["progress"]
    assert err <= 1e-9
    assert n_calls >= 2


def test_same_mesh_same_shapes_do_not_recompile(report):
    assert report["retraced"] == 0
