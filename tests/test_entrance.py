"""One entrance: on every public path X is validated once and padded once, and every path
trains through ``jaxlr._train.train.Trainer``."""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import jaxlr
from jaxlr._train import data as _data
from jaxlr._train import train as _train

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def counted(monkeypatch):
    """Calls of the X check (jaxlr's ``check_features``, scikit-learn's ``validate_data`` in the
    estimators), of the padding (``prepare``) and of the entrance (``Trainer``)."""
    import jaxlr.sklearn._logistic as logistic

    calls = {"validate": 0, "pad": 0, "trainer": 0}

    def count(name, fn):
        def wrapped(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(_data, "check_features", count("validate", _data.check_features))
    monkeypatch.setattr(logistic, "validate_data", count("validate", logistic.validate_data))
    monkeypatch.setattr(_train, "prepare", count("pad", _train.prepare))
    monkeypatch.setattr(_train.Trainer, "__init__", count("trainer", _train.Trainer.__init__))
    return calls


def quiet(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


@pytest.mark.parametrize("path", ["fit", "fit_many", "sweep", "sweep folds halving", "LogisticRegression",
                                  "LogisticRegressionCV", "bootstrap", "permutation_test", "stability_selection"])
def test_x_is_validated_and_padded_once(cancer, counted, path):
    X, y = cancer
    calls = {
        "fit": lambda: jaxlr.fit(X, y, l2=0.01),
        "fit_many": lambda: jaxlr.fit_many(X, y, l2=[0.01, 0.1]),
        "sweep": lambda: jaxlr.sweep(X, y, l2=[0.01, 0.1]),
        "sweep folds halving": lambda: jaxlr.sweep(X, y, l2=list(np.geomspace(1e-3, 1.0, 9)), folds=3, halving=3,
                                                   solver="lbfgs", steps=60),
        "LogisticRegression": lambda: jaxlr.LogisticRegression().fit(X, y),
        "LogisticRegressionCV": lambda: jaxlr.LogisticRegressionCV(Cs=4, cv=3, l1_ratios=None, scoring="accuracy",
                                                                   use_legacy_attributes=False).fit(X, y),
        "bootstrap": lambda: jaxlr.bootstrap(X, y, n_resamples=8, method="bca", l2=0.01),
        "permutation_test": lambda: jaxlr.permutation_test(X, y, n_permutations=3, cv=3, l2=0.01),
        "stability_selection": lambda: jaxlr.stability_selection(X, y, l1=[0.1, 0.01], n_subsamples=3),
    }
    quiet(calls[path])
    assert counted == {"validate": 1, "pad": 1, "trainer": 1}


CLI = r"""
import json, sys
from jaxlr._train import data, train
from jaxlr.cli import _io
counts = {"read": 0, "validate": 0, "pad": 0, "trainer": 0}
def count(name, fn):
    def wrapped(*a, **k):
        counts[name] += 1
        return fn(*a, **k)
    return wrapped
data.check_features = count("validate", data.check_features)
train.prepare = count("pad", train.prepare)
train.Trainer.__init__ = count("trainer", train.Trainer.__init__)
_io.load = count("read", _io.load)
from jaxlr.cli import main
code = main(sys.argv[1:])
print("JSON" + json.dumps([code, counts]))
"""


@pytest.mark.parametrize("command", [["fit", "--l2", "0.01"], ["sweep", "--l2", "0.01,0.1", "--folds", "3",
                                                               "--halving", "2", "--steps", "50"],
                                     ["bootstrap", "--n-resamples", "8", "--l2", "0.01"],
                                     ["stability", "--l1", "0.1,0.01", "--n-subsamples", "3"],
                                     ["permutation", "--n-permutations", "3", "--cv", "3"]])
def test_the_command_line_checks_its_file_once_and_pads_once(tmp_path, command):
    """The file's reader is the one check of X (``_io``: every cell, by line and column); the
    core receives the ``Dataset`` it builds and checks nothing again."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 3))
    y = (X[:, 0] + rng.standard_normal(120) > 0).astype(int)
    path = tmp_path / "d.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header="a,b,c,y", comments="")
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAXLR_CACHE_DIR="")
    proc = subprocess.run([sys.executable, "-c", CLI, command[0], str(path), "--target", "y", *command[1:],
                           "--out", str(tmp_path / "out"), "-q"], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    code, counts = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("JSON")][-1][4:])
    assert code == 0 and counts == {"read": 1, "validate": 0, "pad": 1, "trainer": 1}
