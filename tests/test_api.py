"""The public surface is small and explicit."""

import jaxlr


def test_public_names():
    expected = {
        "fit", "sweep", "predict", "predict_proba", "FitResult", "SweepResult", "Params",
        "binary_cross_entropy", "objective", "losses", "ConvergenceWarning",
        "PerfectSeparationWarning", "STATUS_NAMES",
    }
    assert expected <= set(dir(jaxlr))
    assert jaxlr.STATUS_NAMES == ("running", "converged", "max_iter", "diverged", "done")


def test_version_is_a_string():
    assert isinstance(jaxlr.__version__, str)
