"""Benchmarks for jaxlr against the machine's own limits and against scikit-learn / NumPy.

Run ``python -m bench [--quick] [--out FILE.json]`` (or ``jaxlr bench``). Every figure that
matters is a ratio of two timings taken in the same run, so a noisy machine moves both.
"""
