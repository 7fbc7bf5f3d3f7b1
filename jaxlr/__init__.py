"""jaxlr: logistic regression in JAX for people who fit many models.

    import jaxlr
    result = jaxlr.fit(X, y)                                  # one model, to tolerance
    grid = jaxlr.sweep(X, y, seeds=4, l2=[1e-3, 1e-2, 1e-1])  # many, one compiled program
    jaxlr.predict_proba(result, X)

Importing jaxlr changes no global state; ``jaxlr.enable_compilation_cache()`` turns on JAX's
persistent compilation cache when you want it (the command line does).
"""

__version__ = "0.2.0"

from . import losses as losses
from . import metrics as metrics
from ._cache import enable_compilation_cache as enable_compilation_cache
from ._inference import InferenceTable as InferenceTable
from ._inference import inference as inference
from ._model import Params as Params
from ._model import predict as predict
from ._model import predict_proba as predict_proba
from ._results import STATUS_NAMES as STATUS_NAMES
from ._results import ConvergenceWarning as ConvergenceWarning
from ._results import FitResult as FitResult
from ._results import PerfectSeparationWarning as PerfectSeparationWarning
from ._results import Status as Status
from ._results import SweepResult as SweepResult
from ._lanes import fit_many as fit_many
from ._sweep import sweep as sweep
from ._train import fit as fit
from .losses import binary_cross_entropy as binary_cross_entropy
from .losses import objective as objective

_ESTIMATORS = ("LogisticRegression", "LogisticRegressionCV")

__all__ = [
    "ConvergenceWarning", "FitResult", "InferenceTable", "LogisticRegression", "LogisticRegressionCV",
    "Params", "PerfectSeparationWarning", "STATUS_NAMES", "Status", "SweepResult", "binary_cross_entropy",
    "enable_compilation_cache", "fit", "fit_many", "inference", "losses", "metrics", "objective", "predict",
    "predict_proba", "sweep",
]


def __getattr__(name):
    # the scikit-learn estimators load lazily: scikit-learn is an optional extra
    if name in _ESTIMATORS:
        try:
            from . import estimator
        except ModuleNotFoundError as err:
            raise ImportError(f"jaxlr.{name} needs scikit-learn ({err.name} is missing): "
                              "pip install 'jaxlr[sklearn]'") from err
        return getattr(estimator, name)
    raise AttributeError(f"module 'jaxlr' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_ESTIMATORS))
