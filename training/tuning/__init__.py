"""Hyper-parameter search: the space, the sampler (hyperopt behind a small
suggest/observe interface), suggesting trials, pruning, selecting the winner and
the search's report (trials.csv, the trade-off plot), and past trials to learn from.

A search's state is in MLflow (``training.tracking.search_store``); nothing here
trains a model.
"""
