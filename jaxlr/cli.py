"""The ``jaxlr`` command line: a thin shell over the Python API."""

from __future__ import annotations

import argparse
import sys

from . import __version__


def _demo(args) -> int:
    import jax

    jax.config.update("jax_enable_x64", True)  # the seed computes in float64
    from .demo import SEED_TEST_LOSS, run_demo

    report = run_demo()
    print("jaxlr demo: the seed experiment (textbook logistic regression, gradient descent)")
    print(f"  test loss      {report.test_loss:.17g}   (seed prints {SEED_TEST_LOSS:.17g};"
          f" difference {abs(report.test_loss - SEED_TEST_LOSS):.1e})")
    print(f"  coef           {report.coef}   intercept {report.intercept:.6f}   dtype {report.dtype}")
    print()
    print(f"What jaxlr adds: {report.n_models} models (seeds x learning rates, minibatch 16, 1000 steps)"
          " trained as ONE compiled, vmapped program:")
    print(report.sweep_table)
    print()
    print(f"  one sweep call     {report.sweep_s * 1e3:8.1f} ms   (first call incl. compile: {report.sweep_compile_s:.2f} s)")
    print(f"  {report.n_models} fit calls       {report.loop_s * 1e3:8.1f} ms   (same models one by one, warm)")
    print(f"  speed-up           {report.loop_s / report.sweep_s:8.1f}x")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxlr",
        description="Logistic regression in JAX: fit one model or sweep many in one compiled program.",
    )
    parser.add_argument("--version", action="version", version=f"jaxlr {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="reproduce the textbook seed experiment, then sweep seeds x learning rates")
    demo.set_defaults(func=_demo)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
