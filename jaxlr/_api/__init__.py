"""The public functional API, thin functions over the one entrance (``jaxlr._train.train``).

    diagnostics scale and separation warnings
    predict     predict_proba, predict
    fit         fit (one model), fit_many (any set of models)
    search      distributions for random search
    halving     successive halving over a sweep's settings
    sweep       sweep: grids, folds, halving, random search
    solve       solve: the solution as a differentiable function
    inference   Wald standard errors, intervals and tests
    cache       compilation cache and jaxlr's store of traced programs
    demo        the seed experiment reproduced
"""
