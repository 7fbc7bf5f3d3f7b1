"""The ``jaxlr`` command line: a thin shell around the functional API, with its I/O, reports and
plots.

    _args       the parser (model options built from jaxlr.Options' fields)
    _errors     UsageError: one line on stderr, exit code 2
    _io         data files (CSV, Parquet, .npz, LIBSVM) into arrays, the one check of X
    _commands   jaxlr fit, jaxlr sweep, jaxlr demo
    _report     scores, tables, summaries, figure data, run.json
    _outputs    result files written whole, sweep checkpoints
    _plots      figures
    _main       main(), run(): every failure as one line and an exit code
"""

from ._main import main as main
from ._main import parser as build_parser
from ._main import run as run

__all__ = ["main", "run", "build_parser"]
