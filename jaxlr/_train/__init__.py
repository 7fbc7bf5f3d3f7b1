"""The one entrance to the core: check at the door, then one call.

    checks      single-argument checks whose errors name the argument
    data        Dataset: X, labels, weights validated once
    grid        Grid: which models (seed, learning rate, l2, l1, fold), the names defined once
    results     FitResult, SweepResult and the warning for unfinished models
    mesh        placing arrays on a device mesh (public as jaxlr.sharding)
    layout      shape buckets, padding and placement (done once per call), parameter packing
    scaling     standardize=True
    path        regularization paths
    options     Options: every option checked and every "auto" resolved in one constructor
    chunks      lanes through the compiled program: chunks, rounds, compaction
    scoring     the one held-out scorer (log-loss, accuracy, AUC of K models)
    train       train(data, options, grid): the entrance every public path goes through

Arrows point one way: each module imports only modules listed above it (and ``jaxlr._core``).
"""
