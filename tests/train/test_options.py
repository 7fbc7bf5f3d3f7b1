"""Options: every option checked and every "auto" resolved in one place; the command line's flags
come from its fields; ``max_time`` (an option added end to end) stops a fit in time."""

import dataclasses
import time
import warnings

import numpy as np
import pytest

import jaxlr
from jaxlr._train.data import dataset
from jaxlr._train.grid import Grid
from jaxlr._train.options import Options

from conftest import make_problem


def resolve(X, y, l2=0.0, **given):
    data = dataset(X, y)
    return Options.resolve(data, Grid.of(X.shape[0], l2=l2), **given)


def test_auto_is_resolved_once_and_the_value_is_frozen():
    X, y = make_problem(m=60, n=4)
    o = resolve(X, y)
    assert o.solver.name == "newton" and o.tol == 1e-4 and o.path is False and o.chunk_size == 1
    assert resolve(X, y, batch_size=16).tol is None and resolve(X, y, batch_size=16).solver.name == "gd"
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.steps = 3


@pytest.mark.parametrize("given, error, match", [
    (dict(max_time=0), ValueError, "max_time must be > 0"),
    (dict(max_time="1s"), TypeError, "max_time must be a real number"),
    (dict(steps=1.5), TypeError, "steps must be an integer"),
    (dict(no_such_option=1), TypeError, "fit\\(\\) got an unexpected keyword argument 'no_such_option'"),
])
def test_each_option_is_checked_naming_it(given, error, match):
    X, y = make_problem(m=30, n=2)
    with pytest.raises(error, match=match):
        resolve(X, y, **given)
    with pytest.raises(error, match=match):
        jaxlr.fit(X, y, **given)


def test_every_option_with_a_flag_is_on_the_command_line():
    from jaxlr.cli import build_parser

    help_text = {}
    for command in ("fit", "sweep"):
        parser = build_parser()
        sub = next(a for a in parser._actions if a.dest == "command").choices[command]
        help_text[command] = {o for a in sub._actions for o in a.option_strings}
    for field in dataclasses.fields(Options):
        cli = field.metadata.get("cli")
        if cli:
            flag = cli.get("flag", "--" + field.name.replace("_", "-"))
            for command in cli["commands"]:
                assert flag in help_text[command], (field.name, command)


def test_max_time_stops_a_long_fit_within_a_round():
    """A budget of 10^8 steps with max_time=0.5: the fit returns after about half a second (a
    round is at most a quarter second) with status max_iter; without the limit it would run for
    hours."""
    X, y = make_problem(m=2000, n=8, seed=3)
    jaxlr.fit(X, y, solver="gd", steps=10, tol=None)  # compiled before the clock starts
    start = time.perf_counter()
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        r = jaxlr.fit(X, y, solver="gd", steps=10**8, tol=0.0, learning_rate=1e-6, max_time=0.5)
    elapsed = time.perf_counter() - start
    assert r.status_name == "max_iter" and 0 < int(r.n_iter) < 10**8
    assert 0.5 <= elapsed < 5.0  # generous: a loaded machine stretches the last round
    s = jaxlr.sweep(X, y, solver="gd", steps=10**8, tol=None, l2=[0.0, 0.1], max_time=0.3)
    assert s.status_name == ("done", "done") and np.all(np.asarray(s.n_iter) > 0)
