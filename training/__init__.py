"""tweetbot's training library: everything the DAGs and the trainer pod run.

Directly here are the commands (``python -m training.train``, ``.trial``,
``.evaluate``, ``.generate``, ``.search``, ``.split``, ``.import_h5``,
``.export_h5``, ``.stack``, ``.demo``); beneath, one package per stage, each
importing only the ones below it (checked by import-linter in ``make test``):

    pipeline   the steps of a run and what runs them
    tuning     hyper-parameter search: space, sampler, pruning, selection, report
    tracking   MLflow, behind one package: the only place that imports it
    model      the network, the fit loop, checkpoints, scoring, generation
    data       vocabulary, splits, storage, batches
    core       config, records, errors, settings

It imports and runs without Airflow. Keras, and with it its backend (TensorFlow by
default, or JAX: ``KERAS_BACKEND``), is imported only where a model is built, trained
or loaded, so the Airflow side plans searches and talks to MLflow without it.
"""
