"""jaxlr: logistic regression in JAX for people who fit many models.

    import jaxlr
    result = jaxlr.fit(X, y)                                  # one model, to tolerance
    grid = jaxlr.sweep(X, y, seeds=4, l2=[1e-3, 1e-2, 1e-1])  # many, one compiled program
    probe = jaxlr.linear_probe(X, y, X_val, y_val)            # a C grid scored on a validation set
    probe.best, probe.best_params                             # the best model, kept, and its C
    jaxlr.predict_proba(result, X)
    jaxlr.bootstrap(X, y, n_resamples=1000)                   # resamples, permutations, subsamples:
    jaxlr.permutation_test(X, y, n_permutations=100)          # lanes of one compiled program too

The house: ``jaxlr/_core`` is the pure compiled core (solvers, the one loop driver), ``jaxlr/_train``
the one entrance to it (data, options and grid checked once, then ``train``), ``jaxlr/_api`` the
public functions below, ``jaxlr/sklearn`` the scikit-learn adapter and ``jaxlr/cli`` the command
line with its I/O, reports and plots.

Importing jaxlr changes no global state. jaxlr keeps its own compiled programs across processes
(``~/.cache/jaxlr/executables``; ``JAXLR_CACHE_DIR=""`` or ``jaxlr.set_program_cache(None)``
turns that off); ``jaxlr.enable_compilation_cache()`` also turns on JAX's persistent compilation
cache when you want it (the command line does).
"""

__version__ = "0.3.0"

from typing import TYPE_CHECKING as _TYPE_CHECKING

from . import losses as losses
from . import metrics as metrics
from ._api.cache import enable_compilation_cache as enable_compilation_cache
from ._api.cache import set_program_cache as set_program_cache
from ._api.fit import fit as fit
from ._api.fit import fit_many as fit_many
from ._api.predict import predict as predict
from ._api.predict import predict_proba as predict_proba
from ._core.losses import binary_cross_entropy as binary_cross_entropy
from ._core.losses import objective as objective
from ._core.model import Params as Params
from ._core.status import STATUS_NAMES as STATUS_NAMES
from ._core.status import Status as Status
from ._train.options import Options as Options
from ._train.results import ConvergenceWarning as ConvergenceWarning
from ._train.results import FitResult as FitResult
from ._train.results import PerfectSeparationWarning as PerfectSeparationWarning
from ._train.results import SweepResult as SweepResult

# What a fit does not use loads at first use (``import jaxlr`` is part of every first answer):
# public name -> its module under jaxlr._api. ``jax.scipy.stats`` alone (inference) took 13-22 ms.
_LAZY = {
    "BootstrapResult": "bootstrap", "bootstrap": "bootstrap",
    "InferenceTable": "inference", "inference": "inference",
    "PermutationResult": "permutation", "permutation_test": "permutation",
    "linear_probe": "probe",
    "choice": "search", "loguniform": "search", "uniform": "search",
    "solve": "solve",
    "StabilityResult": "stability", "stability_selection": "stability",
    "sweep": "sweep",
}
if _TYPE_CHECKING:
    from ._api.bootstrap import BootstrapResult as BootstrapResult
    from ._api.bootstrap import bootstrap as bootstrap
    from ._api.inference import InferenceTable as InferenceTable
    from ._api.inference import inference as inference
    from ._api.permutation import PermutationResult as PermutationResult
    from ._api.permutation import permutation_test as permutation_test
    from ._api.probe import linear_probe as linear_probe
    from ._api.search import choice as choice
    from ._api.search import loguniform as loguniform
    from ._api.search import uniform as uniform
    from ._api.solve import solve as solve
    from ._api.stability import StabilityResult as StabilityResult
    from ._api.stability import stability_selection as stability_selection
    from ._api.sweep import sweep as sweep

_ESTIMATORS = ("LogisticRegression", "LogisticRegressionCV")

__all__ = [
    "BootstrapResult", "ConvergenceWarning", "FitResult", "InferenceTable", "LogisticRegression",
    "LogisticRegressionCV", "Options", "Params", "PerfectSeparationWarning", "PermutationResult", "STATUS_NAMES",
    "StabilityResult", "Status", "SweepResult", "binary_cross_entropy", "bootstrap", "choice",
    "enable_compilation_cache", "fit", "fit_many", "inference", "linear_probe", "loguniform", "losses", "metrics",
    "objective", "permutation_test", "predict", "predict_proba", "set_program_cache", "solve", "stability_selection",
    "sweep",
    "uniform",
]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f"._api.{_LAZY[name]}", __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    # the scikit-learn estimators load lazily: scikit-learn is an optional extra
    if name in _ESTIMATORS:
        try:
            from . import sklearn
        except ModuleNotFoundError as err:
            raise ImportError(f"jaxlr.{name} needs scikit-learn ({err.name} is missing): "
                              "pip install 'jaxlr[sklearn]'") from err
        return getattr(sklearn, name)
    raise AttributeError(f"module 'jaxlr' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_ESTIMATORS))
