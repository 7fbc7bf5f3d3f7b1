"""scikit-learn estimators on top of jaxlr's core: the only package that imports scikit-learn.

``LogisticRegression`` and ``LogisticRegressionCV`` take every parameter of scikit-learn 1.9's
estimators with scikit-learn's meaning (plus jaxlr's ``solver`` names and ``learning_rate``)
and expose its fitted attributes. Fitting goes through the core's one entrance with X checked by
scikit-learn's ``validate_data`` only: ``LogisticRegression`` one model, ``LogisticRegressionCV``
every fold x C x l1_ratio (and the refit models) as lanes of one program.

    _params     scikit-learn's parameter semantics mapped onto the core's Options and Grid
    _logistic   LogisticRegression and the prediction shared by both (NumPy, nothing compiles)
    _cv         LogisticRegressionCV: folds as lanes, scoring
"""

from ._cv import LogisticRegressionCV as LogisticRegressionCV
from ._logistic import LogisticRegression as LogisticRegression
from ._params import ConvergenceWarning as ConvergenceWarning
from ._params import PerfectSeparationWarning as PerfectSeparationWarning

__all__ = ["LogisticRegression", "LogisticRegressionCV", "ConvergenceWarning", "PerfectSeparationWarning"]
