"""jaxlr: logistic regression in JAX for people who fit many models.

    import jaxlr
    result = jaxlr.fit(X, y)                                  # one model, to tolerance
    grid = jaxlr.sweep(X, y, seeds=4, l2=[1e-3, 1e-2, 1e-1])  # many, one compiled program
    jaxlr.predict_proba(result, X)
"""

import os as _os

import jax as _jax


def _enable_persistent_cache() -> None:
    """Keep compiled programs on disk so a fresh process skips XLA compilation.

    Directory: ``$JAXLR_CACHE_DIR`` (default ``~/.cache/jaxlr/xla``; set it empty to turn the
    cache off). A cache the user configured for JAX is left alone.
    """
    path = _os.environ.get("JAXLR_CACHE_DIR", _os.path.join(_os.path.expanduser("~"), ".cache", "jaxlr", "xla"))
    if not path or _jax.config.jax_compilation_cache_dir:
        return
    _jax.config.update("jax_compilation_cache_dir", path)
    _jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


_enable_persistent_cache()

from . import losses as losses  # noqa: E402
from . import metrics as metrics  # noqa: E402
from .inference import InferenceTable as InferenceTable  # noqa: E402
from .inference import inference as inference  # noqa: E402
from .losses import binary_cross_entropy as binary_cross_entropy  # noqa: E402
from .losses import objective as objective  # noqa: E402
from .model import Params as Params  # noqa: E402
from .model import predict as predict  # noqa: E402
from .model import predict_proba as predict_proba  # noqa: E402
from .sweep import SweepResult as SweepResult  # noqa: E402
from .sweep import sweep as sweep  # noqa: E402
from .train import STATUS_NAMES as STATUS_NAMES  # noqa: E402
from .train import ConvergenceWarning as ConvergenceWarning  # noqa: E402
from .train import FitResult as FitResult  # noqa: E402
from .train import PerfectSeparationWarning as PerfectSeparationWarning  # noqa: E402
from .train import fit as fit  # noqa: E402

_ESTIMATORS = ("LogisticRegression", "LogisticRegressionCV")


def __getattr__(name):
    # the scikit-learn estimators load lazily: scikit-learn is an optional extra
    if name in _ESTIMATORS:
        from . import estimator

        return getattr(estimator, name)
    raise AttributeError(f"module 'jaxlr' has no attribute {name!r}")

__version__ = "0.1.0"
