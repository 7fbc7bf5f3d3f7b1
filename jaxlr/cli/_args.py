"""The command line's arguments: value types and the parser.

The model options come from ``jaxlr.Options``'s fields (their help text and ``cli`` metadata):
a new option of the core is a new flag here without an edit. Types turn text into values;
ranges are the API's to check (its errors name the option, see ``_main.option_error``).
"""

from __future__ import annotations

import argparse
import dataclasses
from importlib import metadata

from .. import __version__

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def numbers(text: str) -> tuple[float, ...]:
    parts = [p.strip() for p in text.split(",")]
    if not all(parts):
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers separated by commas, e.g. 0.01,0.1")
    return tuple(number(p) for p in parts)


def seeds(text: str):
    """``N`` (seeds 0..N-1) or an explicit list ``a,b,c``."""
    if "," in text:
        return tuple(integer(p.strip()) for p in text.split(","))
    return integer(text)


def tolerance(text: str):
    if text.lower() in ("auto", "none"):
        return text.lower() if text.lower() == "auto" else None
    return number(text)


def names(text: str) -> list[str]:
    parts = [n.strip() for n in text.split(",")]
    if not all(parts):
        raise argparse.ArgumentTypeError(f"{text!r}: expected column names separated by commas")
    return parts


KINDS = {"integer": integer, "number": number, "tol": tolerance}
# the resampling commands run in one process on its devices, on all rows (no held-out split)
ONE_PROCESS = dict(coordinator_address=None, num_processes=None, process_id=None, distributed=False, mesh=None,
                   device_mesh=None, test_size=None, split_seed=0)


def _add_data_options(parser, split: bool = True):
    p = parser.add_argument_group("data and output")
    p.add_argument("data", metavar="DATA", help="CSV with a header, Parquet, NumPy .npz or LIBSVM/svmlight file")
    p.add_argument("--target", metavar="COL",
                   help="label column (CSV/Parquet) or array (.npz, default 'y'); two string values become 0/1")
    p.add_argument("--features", metavar="A,B,...", type=names, help="feature columns (default: all others)")
    p.add_argument("--out", metavar="DIR",
                   help="directory for results.csv, params.npz, run.json and PNGs (created; its parent must exist; "
                        "default: a new directory jaxlr-COMMAND-DATE-TIME here)")
    p.add_argument("--force", action="store_true", help="replace the results of an earlier run in --out")
    if split:
        p.add_argument("--test-size", metavar="F", type=number,
                       help="hold out this fraction (0 < F < 1) or number of rows for validation metrics")
        p.add_argument("--split-seed", metavar="N", type=integer, default=0,
                       help="seed of the held-out split (default 0)")
    p.add_argument("--class-weight", choices=("balanced",), help="reweight classes to equal total weight")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64", help="compute dtype (default float64)")


def _add_options(group, command: str):
    """A flag for each ``jaxlr.Options`` field whose ``cli`` metadata names ``command``."""
    from .._core.solvers import NAMES
    from .._train.options import Options

    for field in dataclasses.fields(Options):
        cli = field.metadata.get("cli")
        if not cli or command not in cli["commands"]:
            continue
        flag = cli.get("flag", "--" + field.name.replace("_", "-"))
        default = f" (default {field.default})" if field.default not in (None, False, True) else ""
        help_text = field.metadata["help"] + default
        if cli["kind"] == "flag":
            group.add_argument(flag, dest=field.name, action="store_true", help=help_text)
        elif cli["kind"] == "negate":
            group.add_argument(flag, dest=field.name, action="store_false", help=f"do not {field.metadata['help']}")
        elif cli["kind"] == "solver":
            group.add_argument(flag, dest=field.name, default=field.default, choices=NAMES, metavar=cli["metavar"],
                               help=f"one of {', '.join(NAMES)} (default {field.default}: newton / lbfgs, fista with "
                                    "--l1, gd with minibatches or a learning-rate grid)")
        else:
            group.add_argument(flag, dest=field.name, type=KINDS[cli["kind"]], default=field.default,
                               metavar=cli["metavar"], help=help_text)


def _add_model_options(parser, command: str, options_of: str | None = None, l1: bool = True):
    """The model's flags (``options_of``: the command whose ``jaxlr.Options`` flags it takes)."""
    many = command == "sweep"
    p = parser.add_argument_group(f"model (keyword arguments of jaxlr.{command})")
    value = numbers if many else number
    several = "; a,b,... for a grid" if many else ""
    p.add_argument("--learning-rate", type=value, default=(0.01,) if many else 0.01, metavar="LR",
                   help=f"step size of first-order solvers, > 0{several} (default 0.01)")
    p.add_argument("--l2", type=value, default=(0.0,) if many else 0.0, metavar="L2",
                   help=f"ridge penalty 0.5*l2*||w||^2, >= 0{several} (default 0)")
    if l1:
        p.add_argument("--l1", type=value, default=(0.0,) if many else 0.0, metavar="L1",
                       help=f"lasso penalty l1*||w||_1, >= 0{several} (default 0)")
    _add_options(p, options_of or command)
    return p


def _add_run_options(parser):
    from .._api.cache import CACHE_ENV

    p = parser.add_argument_group("run")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument("--cache-dir", metavar="DIR", default=None,
                   help=f"JAX persistent compilation cache (default ${CACHE_ENV} if set, an empty value "
                        "meaning none; else $XDG_CACHE_HOME/jaxlr/xla, i.e. ~/.cache/jaxlr/xla)")
    p.add_argument("--no-cache", dest="use_cache", action="store_false", help="do not use the compilation cache")
    return p


def _finish_subparser(sp, func):
    """Set the command's function, and the option that spells each API keyword (``dest``):
    how the core's argument errors are named on the command line."""
    options = {}
    for action in sp._actions:
        if action.option_strings and action.dest not in options:
            options[action.dest] = max(action.option_strings, key=len)
    sp.set_defaults(func=func, options=options)


def build_parser(commands: dict) -> argparse.ArgumentParser:
    """The parser; ``commands`` maps "fit", "sweep", "demo" to the functions that run them."""
    from ..distributed import add_distributed_arguments

    parser = Parser(
        prog="jaxlr",
        description="Logistic regression in JAX: fit one model or sweep many in one compiled program.",
        epilog="Examples:\n"
               "  jaxlr fit data.csv --target label --standardize --l2 1e-3 --test-size 0.2 --out run1\n"
               "  jaxlr sweep data.csv --target label --standardize --learning-rate 0.01,0.1 "
               "--l2 0,1e-3,1e-2 --folds 5 --out sweep1\n"
               "Each run writes results.csv, params.npz, run.json and PNG figures into --out.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=version_text())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    fit = sub.add_parser("fit", help="fit one model and write its results, parameters and loss curve",
                         description="Fit one model (jaxlr.fit) on a data file.")
    _add_data_options(fit)
    _add_model_options(fit, "fit").add_argument(
        "--seed", type=integer, default=0, metavar="N", help="PRNG seed, 0 .. 2**32-1 (minibatch order; default 0)")
    _add_run_options(fit)
    add_distributed_arguments(fit)
    _finish_subparser(fit, commands["fit"])

    sw = sub.add_parser("sweep", help="fit the grid seeds x learning rates x l2 (x l1 x folds) as one program",
                        description="Fit a grid of models (jaxlr.sweep) on a data file, resumably.")
    _add_data_options(sw)
    model = _add_model_options(sw, "sweep")
    model.add_argument("--seeds", type=seeds, default=1, metavar="N",
                       help="number of seeds (0..N-1) or a list a,b,c of seeds in 0 .. 2**32-1 (default 1); "
                            "seeds matter only with --batch-size")
    model.add_argument("--folds", type=integer, metavar="K", help="stratified K-fold validation (K >= 2)")
    model.add_argument("--halving", type=integer, metavar="FACTOR",
                       help="successive halving (with --folds): at rungs of growing budgets keep the best "
                            "1/FACTOR of the settings by held-out loss, prune the rest")
    _add_run_options(sw).add_argument("--resume", action="store_true",
                                      help="reuse finished chunks from an interrupted run in --out")
    add_distributed_arguments(sw)
    _finish_subparser(sw, commands["sweep"])

    bs = sub.add_parser("bootstrap", help="bootstrap intervals for the coefficients: resamples as lanes of one program",
                        description="Bootstrap confidence intervals (jaxlr.bootstrap) beside the Wald intervals "
                                    "of jaxlr.inference, on a data file.")
    _add_data_options(bs, split=False)
    model = _add_model_options(bs, "bootstrap", options_of="fit")
    model.add_argument("--n-resamples", type=integer, default=1000, metavar="B", help="resamples (default 1000)")
    model.add_argument("--method", choices=("percentile", "basic", "bca"), default="percentile",
                       help="interval (default percentile; bca adds n leave-one-out fits)")
    model.add_argument("--confidence-level", type=number, default=0.95, metavar="P", help="in (0, 1) (default 0.95)")
    model.add_argument("--stratify", action="store_true", help="resample within each class")
    model.add_argument("--seed", type=integer, default=0, metavar="N", help="seed of the resamples (default 0)")
    _add_run_options(bs)
    bs.set_defaults(**ONE_PROCESS)
    _finish_subparser(bs, commands["bootstrap"])

    st = sub.add_parser("stability", help="stability selection: L1 fits on random half-samples across an l1 grid",
                        description="Selection probability of every feature per l1 value (jaxlr.stability_selection) "
                                    "on a data file.")
    _add_data_options(st, split=False)
    model = _add_model_options(st, "stability_selection", options_of="fit", l1=False)
    model.add_argument("--l1", type=numbers, required=True, metavar="A,B,...", help="the l1 values, each >= 0")
    model.add_argument("--n-subsamples", type=integer, default=100, metavar="S", help="subsamples (default 100)")
    model.add_argument("--fraction", type=number, default=0.5, metavar="F",
                       help="share of the rows in each subsample, in (0, 1) (default 0.5)")
    model.add_argument("--complementary-pairs", action="store_true",
                       help="S pairs of disjoint subsamples (Shah & Samworth; fraction <= 0.5)")
    model.add_argument("--threshold", type=number, default=0.6, metavar="P",
                       help="selection probability a stable feature reaches, in (0, 1) (default 0.6)")
    model.add_argument("--seed", type=integer, default=0, metavar="N", help="seed of the subsamples (default 0)")
    _add_run_options(st)
    st.set_defaults(**ONE_PROCESS)
    _finish_subparser(st, commands["stability"])

    pt = sub.add_parser("permutation", help="permutation test of the cross-validated score: permutations x folds "
                                            "as lanes of one program",
                        description="Is the cross-validated score better than chance? (jaxlr.permutation_test, "
                                    "scikit-learn's permutation_test_score) on a data file.")
    _add_data_options(pt, split=False)
    model = _add_model_options(pt, "permutation_test", options_of="fit")
    model.add_argument("--n-permutations", type=integer, default=100, metavar="P", help="permutations (default 100)")
    model.add_argument("--cv", type=integer, default=5, metavar="K", help="stratified K-fold (default 5)")
    model.add_argument("--scoring", choices=("accuracy", "neg_log_loss", "roc_auc"), default="accuracy",
                       help="held-out score (default accuracy)")
    model.add_argument("--seed", type=integer, default=0, metavar="N", help="seed of the permutations (default 0)")
    _add_run_options(pt)
    pt.set_defaults(**ONE_PROCESS)
    _finish_subparser(pt, commands["permutation"])

    demo = sub.add_parser("demo", help="reproduce the textbook seed experiment, then sweep seeds x learning rates")
    demo.set_defaults(func=commands["demo"])
    return parser


def model_options(args) -> dict:
    """The ``jaxlr.Options`` keyword arguments the parsed flags give (and the device mesh)."""
    from .._train.options import Options

    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(Options) if hasattr(args, f.name)}
    return {**given, "mesh": args.device_mesh}


def version_text() -> str:
    def v(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "missing"

    return f"jaxlr {__version__} (jax {v('jax')}, jaxlib {v('jaxlib')}, optax {v('optax')})"


__all__ = ["build_parser", "model_options", "Parser", "EXIT_USAGE"]
