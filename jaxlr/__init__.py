"""jaxlr: logistic regression in JAX for people who fit many models.

    import jaxlr
    result = jaxlr.fit(X, y)                                  # one model, to tolerance
    grid = jaxlr.sweep(X, y, seeds=4, l2=[1e-3, 1e-2, 1e-1])  # many, one compiled program
    jaxlr.predict_proba(result, X)
"""

from . import losses as losses
from . import metrics as metrics
from .losses import binary_cross_entropy as binary_cross_entropy
from .losses import objective as objective
from .model import Params as Params
from .model import predict as predict
from .model import predict_proba as predict_proba
from .sweep import SweepResult as SweepResult
from .sweep import sweep as sweep
from .train import STATUS_NAMES as STATUS_NAMES
from .train import ConvergenceWarning as ConvergenceWarning
from .train import FitResult as FitResult
from .train import PerfectSeparationWarning as PerfectSeparationWarning
from .train import fit as fit
from .inference import InferenceTable as InferenceTable
from .inference import inference as inference

_ESTIMATORS = ("LogisticRegression", "LogisticRegressionCV")


def __getattr__(name):
    # the scikit-learn estimators load lazily: scikit-learn is an optional extra
    if name in _ESTIMATORS:
        from . import estimator

        return getattr(estimator, name)
    raise AttributeError(f"module 'jaxlr' has no attribute {name!r}")

__version__ = "0.1.0"
