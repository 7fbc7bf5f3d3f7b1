"""scikit-learn's own ``test_logistic.py``, run against jaxlr's estimators (issue 13).

At test time the installed scikit-learn's ``sklearn/linear_model/tests/test_logistic.py`` is
copied to a temporary directory with exactly one change, the import of
``LogisticRegression, LogisticRegressionCV`` (jaxlr's instead of scikit-learn's): its datasets,
helpers and tolerances are untouched. pytest runs it in a fresh process (scikit-learn's
``conftest.py`` loaded as a plugin for its fixtures, x64 on as in jaxlr's own tests, an empty
compilation cache), and this module asserts that every test not in ``EXEMPT`` passes. An
exempt test that passes is an error too (remove it from the list), so the list can only shrink.

It takes minutes, so the default ``pytest`` run deselects it (marker ``sklearn_suite``);
``.ci/run`` runs it as its own step::

    python -m pytest -m sklearn_suite -p no:cacheprovider tests/estimators/test_sklearn_suite.py

From a checkout, ``python tests/estimators/test_sklearn_suite.py [-k EXPR]`` runs (part of) the suite and
prints each outcome; ``--compare`` also runs the unmodified file against scikit-learn and
prints both wall and CPU times (each a fresh process, jaxlr's from an empty compilation cache).
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# test id (or function name: all its parametrizations) -> why it cannot apply to jaxlr
EXEMPT = {
    # scikit-learn internals
    "test_liblinear_dual_random_state":
        "pins liblinear's randomized dual coordinate descent (random_state changes the result at tol=1e-3); "
        "jaxlr's solvers are deterministic",
    "test_logistic_cv_multinomial_score":
        "passes LogisticRegression().get_params() to scikit-learn's private _log_reg_scoring_path, which does "
        "not take jaxlr's extra learning_rate parameter",
    "test_newton_cholesky_fallback_to_lbfgs":
        "pins scikit-learn's newton-cholesky -> lbfgs fallback on a singular Hessian and its lbfgs iteration "
        "counts (jaxlr's Newton damps the Hessian instead of switching solvers)",
    **{f"test_LogisticRegression_elastic_net_objective[{r}-100.0]": (
        "pins where saga stops at its default tol: the test's 'objective' is C * mean log-loss + penalty, while "
        "both libraries minimise C * summed log-loss + penalty (n = 1000 times weaker penalty), and its FIXME "
        "says the random state was fixed to make it pass. With exact solutions the assertion holds (checked: "
        "scikit-learn's saga and jaxlr to tol 1e-10 both give 56.37807 < 56.37811 at l1_ratio 0.1); at tol "
        "1e-4 jaxlr's Newton (l1_ratio=0) stops 4e-4 from the optimum on the side this proxy favours") for r in ("0.1", "0.5", "0.9")},
    "test_large_sparse_matrix[csr_matrix-liblinear]":
        "pins the 32-bit sparse-index limit of scikit-learn's liblinear C code, which jaxlr does not have",
    "test_large_sparse_matrix[csr_matrix-sag]":
        "pins the 32-bit sparse-index limit of scikit-learn's SAG C code, which jaxlr does not have",
    "test_large_sparse_matrix[csr_matrix-saga]":
        "pins the 32-bit sparse-index limit of scikit-learn's SAGA C code, which jaxlr does not have",
    "test_large_sparse_matrix[csr_array-liblinear]":
        "pins the 32-bit sparse-index limit of scikit-learn's liblinear C code, which jaxlr does not have",
    "test_large_sparse_matrix[csr_array-sag]":
        "pins the 32-bit sparse-index limit of scikit-learn's SAG C code, which jaxlr does not have",
    "test_large_sparse_matrix[csr_array-saga]":
        "pins the 32-bit sparse-index limit of scikit-learn's SAGA C code, which jaxlr does not have",
}

IMPORT = re.compile(r"^from sklearn\.linear_model import LogisticRegression, LogisticRegressionCV, (.+)$",
                    re.MULTILINE)


def sklearn_test_file() -> Path:
    import sklearn

    return Path(sklearn.__file__).parent / "linear_model" / "tests" / "test_logistic.py"


def generate(directory: Path, estimators: str = "jaxlr") -> Path:
    """The installed ``test_logistic.py`` in ``directory``, importing jaxlr's estimators."""
    text = sklearn_test_file().read_text()
    if estimators == "jaxlr":
        text, n = IMPORT.subn(r"from sklearn.linear_model import \1\n"
                              r"from jaxlr import LogisticRegression, LogisticRegressionCV", text)
        if n != 1:
            raise RuntimeError("the import of LogisticRegression, LogisticRegressionCV in scikit-learn's "
                               "test_logistic.py has changed: update IMPORT in tests/estimators/test_sklearn_suite.py")
    path = directory / "test_logistic.py"
    path.write_text(text)
    return path


def run_suite(directory: Path, estimators: str = "jaxlr", extra=(), timeout: float = 3600):
    """Run the suite in a fresh process; returns (outcomes {test id: (outcome, message)}, (wall,
    CPU) seconds, return code, output). CPU time (user + system, the process and its children) is
    less sensitive than wall time to other work on a shared machine."""
    path = generate(directory, estimators)
    cache = directory / "jax-cache"  # empty: the wall time includes every compilation
    cache.mkdir(exist_ok=True)
    report = directory / "report.xml"
    env = {k: v for k, v in os.environ.items() if k not in ("SKLEARN_TESTS_GLOBAL_RANDOM_SEED", "PYTEST_ADDOPTS")}
    env.update(JAX_ENABLE_X64="1", JAXLR_CACHE_DIR=str(cache),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    cmd = [sys.executable, "-m", "pytest", "-p", "sklearn.conftest", "-p", "no:cacheprovider", "-q", "-rN",
           "-o", "addopts=", "-o", "testpaths=", "--rootdir", str(directory), f"--junitxml={report}",
           str(path), *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=directory, env=env, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    outcomes = {}
    if report.exists():
        for case in ET.parse(report).getroot().iter("testcase"):
            name = case.get("name")
            failed = case.find("failure") if case.find("failure") is not None else case.find("error")
            if failed is not None:
                message = (failed.get("message") or "").strip().splitlines()
                outcomes[name] = ("failed", message[0][:300] if message else "")
            elif case.find("skipped") is not None:
                outcomes[name] = ("skipped", (case.find("skipped").get("message") or "")[:200])
            else:
                outcomes[name] = ("passed", "")
    return outcomes, (wall, cpu), out.returncode, out.stdout + out.stderr


def exemption(test_id: str) -> str | None:
    return EXEMPT.get(test_id) or EXEMPT.get(test_id.split("[")[0])


def summarize(outcomes: dict) -> dict:
    groups = {"passed": [], "exempt": [], "failing": [], "exempt but passing": [], "skipped": []}
    for test_id, (outcome, _) in sorted(outcomes.items()):
        exempt = exemption(test_id)
        if outcome == "skipped":
            groups["skipped"].append(test_id)
        elif exempt:
            groups["exempt" if outcome == "failed" else "exempt but passing"].append(test_id)
        else:
            groups["passed" if outcome == "passed" else "failing"].append(test_id)
    return groups


@pytest.mark.sklearn_suite
def test_sklearn_test_logistic_passes(tmp_path):
    outcomes, (wall, cpu), rc, output = run_suite(tmp_path)
    assert rc in (0, 1) and outcomes, f"pytest exited with {rc} (5: no tests collected):\n{output[-3000:]}"
    groups = summarize(outcomes)
    print(f"\nscikit-learn's test_logistic.py against jaxlr: {wall:.0f} s wall, {cpu:.0f} s CPU; "
          + ", ".join(f"{len(v)} {k}" for k, v in groups.items()))
    for test_id in groups["exempt"]:
        print(f"  exempt: {test_id}: {exemption(test_id)}")
    stale = [key for key in EXEMPT if not any(t == key or t.split("[")[0] == key for t in outcomes)]
    assert not stale, f"EXEMPT names tests that no longer exist: {stale}"
    assert not groups["exempt but passing"], (
        f"exempt tests now pass; remove them from EXEMPT: {groups['exempt but passing']}")
    failing = [f"{t}: {outcomes[t][1]}" for t in groups["failing"]]
    assert not failing, f"{len(failing)} scikit-learn tests fail against jaxlr:\n" + "\n".join(failing)


def main(argv: list[str]) -> int:
    compare = "--compare" in argv
    extra = [a for a in argv if a != "--compare"]
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for estimators in (("sklearn", "jaxlr") if compare else ("jaxlr",)):
            directory = Path(tmp) / estimators
            directory.mkdir()
            outcomes, (wall, cpu), rc, output = run_suite(directory, estimators, extra)
            results[estimators] = wall, cpu
            groups = summarize(outcomes) if estimators == "jaxlr" else {}
            for name in ("failing", "exempt but passing"):
                for test_id in groups.get(name, []):
                    print(f"{name.upper()}: {test_id}: {outcomes[test_id][1]}")
            counts = ", ".join(f"{len(v)} {k}" for k, v in groups.items()) or \
                f"{sum(o == 'passed' for o, _ in outcomes.values())} passed"
            print(f"against {estimators}: {wall:.1f} s wall, {cpu:.1f} s CPU, pytest exit {rc}; {counts}")
            if rc not in (0, 1):
                print(output[-3000:])
        if compare:
            (wall_j, cpu_j), (wall_s, cpu_s) = results["jaxlr"], results["sklearn"]
            print(f"jaxlr / scikit-learn: wall time {wall_j / wall_s:.2f}, CPU time {cpu_j / cpu_s:.2f} "
                  f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
